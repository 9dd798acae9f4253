//! STUB: multipart body parser.

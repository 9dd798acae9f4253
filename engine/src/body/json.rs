//! STUB: json body parser.

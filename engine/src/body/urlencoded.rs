//! STUB: urlencoded body parser.

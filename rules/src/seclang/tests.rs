//! Unit tests for the SecLang parser.

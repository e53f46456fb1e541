"""The running version of Shelfwatch."""

VERSION = "0.1.0"

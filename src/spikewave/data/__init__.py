"""Dataset readers. Everything here reads local files or data shipped with a package."""

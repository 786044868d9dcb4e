"""The panel's pages, one module per kind of object."""

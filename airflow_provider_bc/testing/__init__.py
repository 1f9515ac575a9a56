"""Testing helpers: the Business Central emulator and its pytest fixtures."""

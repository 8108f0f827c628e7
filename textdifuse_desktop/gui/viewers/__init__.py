"""Image panes, view linking, colour maps and display helpers."""

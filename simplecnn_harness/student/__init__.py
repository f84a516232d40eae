"""A student's own gradient checked: the classic mistakes, the slides' P matrices."""

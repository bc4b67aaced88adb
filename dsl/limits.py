"""Bounds on what a contract may contain, so checking and evaluation stay small and predictable.

Each limit is a named constant with its unit; a contract over a limit is refused with a diagnostic
that names the limit (codes E0401-E0403).
"""

from typing import Final

SOURCE_BYTES_MAX: Final = 256 * 1024
EXPRESSION_DEPTH_MAX: Final = 32
ITEMS_MAX: Final = 512  # sets, tokens, policies, corridors and examples in one contract
POLICY_ITEMS_MAX: Final = 256  # rules, limits, holds and releases in one policy
SET_ELEMENTS_MAX: Final = 4096
EXAMPLE_STEPS_MAX: Final = 256
SYNTAX_ERRORS_MAX: Final = 20  # syntax errors reported before the parser gives up

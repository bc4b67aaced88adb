"""Limits of the ISO 20022 bridge, each a named constant with its unit.

The XSDs leave most repetitions unbounded; these bound what the bridge reads and writes, so that
parsing any input takes time and memory linear in a small constant.
"""

from __future__ import annotations

# Bytes of one message document. A pacs.008 with one transaction and full party details is a
# few kilobytes; 256 KiB leaves room for long remittance text while refusing floods early.
MESSAGE_BYTES_MAX = 256 * 1024
# Minor units of one amount. The XSD amount types allow 18 digits in total (`totalDigits`), so
# an integer of minor units below 10**18 fits whatever the currency's decimals.
AMOUNT_MINOR_MAX = 10**18 - 1
# Charges (`ChrgsInf`) on one credit transfer: one per agent in the chain, and CBPR+ chains are
# short (debtor agent, at most three intermediaries, creditor agent).
CHARGES_MAX = 10
# Status reasons (`StsRsnInf`) on one transaction status, and lines of additional information
# (`AddtlInf`, at most 105 characters each) on one reason.
STATUS_REASONS_MAX = 5
REASON_LINES_MAX = 5
# Characters of one line of additional information (`AddtlInf` is a Max105Text).
REASON_LINE_CHARACTERS_MAX = 105
# Verifications in one acmt.023 and reports in one acmt.024. Confirmation of payee asks about one
# account at a time; a few allow batching (several proxies of one person).
VERIFICATIONS_MAX = 10

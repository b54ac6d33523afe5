"""MUSHRA (ITU-R BS.1534-3) listening-test material and analysis.

`anchors` renders the 3.5 kHz / 7 kHz low-pass anchors, `package` builds a ready-to-serve webMUSHRA
experiment folder, `serve` runs it on localhost without PHP, `analysis` screens assessors and tests conditions.
"""

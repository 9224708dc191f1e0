# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The basic number rules as one pass over each row's bytes (compiled: see ingest/numbers.py
for what the rules are, and where the rest of normalisation happens)."""

from libc.stdint cimport int8_t, int64_t, uint8_t, uint64_t

# The reasons this kernel gives, in the order of the `reason_codes` argument.
REASONS_GIVEN = ("empty", "invalid_characters", "national_without_country_code",
                 "invalid_country_code", "too_short", "too_long")
cdef enum:
    EMPTY, INVALID_CHARACTERS, NATIONAL_WITHOUT_COUNTRY_CODE, INVALID_COUNTRY_CODE, \
        TOO_SHORT, TOO_LONG

cdef enum:
    MIN_DIGITS = 6  # the API's rule for calleeNumber
    MAX_DIGITS = 18

# Byte classes: digits and '+' are kept, separators dropped, anything else rejects the row.
cdef enum:
    DIGIT, PLUS_SIGN, SEPARATOR, OPEN, CLOSE, DOT, OTHER
cdef uint8_t CLASS[256]
cdef int64_t POWERS_OF_TEN[MAX_DIGITS + 1]
cdef uint8_t ZERO = ord("0")


cdef void _fill_tables():
    cdef int byte, power
    for byte in range(256):
        CLASS[byte] = OTHER  # incl. every non-ASCII byte
    for byte in range(ord("0"), ord("9") + 1):
        CLASS[byte] = DIGIT
    CLASS[ord("+")] = PLUS_SIGN
    for byte in b" \t\n\r\v\f-/":
        CLASS[byte] = SEPARATOR
    for byte in b"([":
        CLASS[byte] = OPEN
    for byte in b")]":
        CLASS[byte] = CLOSE
    CLASS[ord(".")] = DOT
    POWERS_OF_TEN[0] = 1
    for power in range(1, MAX_DIGITS + 1):
        POWERS_OF_TEN[power] = POWERS_OF_TEN[power - 1] * 10


_fill_tables()


def normalise_rows(const int64_t[::1] offsets, const uint8_t[::1] data,
                   int64_t country_code, int country_code_len,
                   const int8_t[::1] reason_codes, int64_t[::1] numbers, int8_t[::1] codes,
                   uint8_t[::1] float_like) -> None:
    """The basic rules for rows of ASCII text (row r is data[offsets[r]:offsets[r + 1]]):
    numbers[r] the number (0 when rejected), codes[r] 0 or the code of a reason
    (reason_codes[i] for REASONS_GIVEN[i]), float_like[r] 1 when the row holds ".0" and
    nothing but digits, '+' and separators (the caller tells a float artefact by its
    whole spelling). country_code_len 0: no default country code. Null rows are the
    caller's to judge (a null's bytes may be anything)."""
    cdef Py_ssize_t rows = offsets.shape[0] - 1, row, at, end
    cdef int kept, strip, digit_len, final_len, reason
    cdef uint64_t value
    cdef uint8_t byte, kind, first, second, third, lead
    cdef bint leading_plus, misplaced_plus, other, dot_zero, first_zero, starts_00, national
    if numbers.shape[0] < rows or codes.shape[0] < rows or float_like.shape[0] < rows:
        raise ValueError("an output array is shorter than the rows")
    if reason_codes.shape[0] != len(REASONS_GIVEN):
        raise ValueError(f"reason_codes must hold a code for each of {REASONS_GIVEN}")
    if rows >= 0 and offsets[rows] > data.shape[0]:
        raise ValueError("offsets point past the data")
    with nogil:
        for row in range(rows):
            at = offsets[row]
            end = offsets[row + 1]
            kept = 0  # digits kept so far
            value = 0  # of the kept digits (wraps when too long: rejected anyway)
            first = second = third = 0  # the first three kept digits
            leading_plus = misplaced_plus = other = dot_zero = False
            while at < end:
                byte = data[at]
                kind = CLASS[byte]
                if kind == DIGIT:
                    if kept == 0:
                        first = byte
                    elif kept == 1:
                        second = byte
                    elif kept == 2:
                        third = byte
                    value = value * 10 + (byte - ZERO)
                    kept += 1
                elif kind == PLUS_SIGN:
                    # Leading: the row's first '+', before any digit (separators may
                    # precede it).
                    if kept == 0 and not leading_plus:
                        leading_plus = True
                    else:
                        misplaced_plus = True
                elif kind == OPEN:
                    # The written-out trunk 0 of "+44 (0)20 ..." is never dialled after a
                    # country code: skipped in international numbers ("+" or "00"), after
                    # the country code's first digit.
                    if (at + 2 < end and data[at + 1] == ZERO and CLASS[data[at + 2]] == CLOSE
                            and ((leading_plus and kept >= 1)
                                 or (not leading_plus and kept >= 3
                                     and first == ZERO and second == ZERO))):
                        at += 1
                elif kind == DOT:
                    if at + 1 < end and data[at + 1] == ZERO:
                        dot_zero = True
                elif kind == OTHER:
                    other = True
                at += 1
            float_like[row] = dot_zero and not other
            # "+0..." is neither "00" nor national (a leading '+' is not among the digits).
            first_zero = kept > 0 and first == ZERO and not leading_plus
            starts_00 = first_zero and kept > 1 and second == ZERO
            national = first_zero and not starts_00
            strip = 2 if starts_00 else (1 if national else 0)  # leading zeros to drop
            digit_len = kept - strip
            lead = third if strip == 2 else (second if strip == 1 else first)
            final_len = digit_len + (country_code_len if national else 0)
            reason = -1  # first match wins
            if other or misplaced_plus:
                reason = INVALID_CHARACTERS
            elif kept == 0:
                reason = EMPTY
            elif national and country_code_len == 0:
                reason = NATIONAL_WITHOUT_COUNTRY_CODE
            elif digit_len > 0 and lead == ZERO and not national:
                reason = INVALID_COUNTRY_CODE
            elif final_len < MIN_DIGITS:
                reason = TOO_SHORT
            elif final_len > MAX_DIGITS:
                reason = TOO_LONG
            if reason >= 0:
                codes[row] = reason_codes[reason]
                numbers[row] = 0
            else:  # the dropped zeros fell away by themselves in `value`
                codes[row] = 0
                numbers[row] = <int64_t>value
                if national:
                    numbers[row] += country_code * POWERS_OF_TEN[digit_len]

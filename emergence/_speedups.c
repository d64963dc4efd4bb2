/* C twins of the loader's three hottest loops; each has a Python twin it must equal.
 *
 *     >>> from emergence import _speedups
 *     >>> import array
 *     >>> out = array.array("q", bytes(8 * 4))
 *     >>> _speedups.events(b'{"t": "a  b&c"}\n', 16, out), out.tolist()
 *     (4, [5, 8, 11, 15])
 *     >>> _speedups.collapse_spaces("  Tom   &  Jerry ")
 *     'Tom & Jerry'
 *     >>> _speedups.unescape("Tom &amp; Jerry&#33", lambda entity: entity.upper())
 *     'Tom &AMP; Jerry&#33'
 *
 * `events(block, n, out)` writes to `out` (a writable int64 buffer) the positions,
 * ascending, of the bytes among block[:n] that emergence.corpus.stream._Scanner looks at, and
 * returns their count; when there are more than `out` holds, it fills `out` and returns
 * the full count (the caller grows `out` and asks again). The bytes:
 *   - a byte below 0x20 (the newline among them) or from 0x7F up (DEL, non-ASCII);
 *   - '&' and '\\';
 *   - a space or double quote followed by another one (not tested at the last byte).
 * That is the numpy scan's mask (`_Scanner._numpy_events`), byte for byte. numpy needs
 * ten passes over a block and two scratch blocks for it, which also push the block out
 * of the cache before its lines are read; this is one pass of SSE2 compares, 16 bytes at
 * a time, without the GIL.
 *
 * `collapse_spaces(text)` shortens every run of U+0020 to one and strips U+0020 from
 * both ends (emergence.corpus.records.collapse_spaces_py, the Python twin). CPython's substring
 * search is slow on "  " in text full of single spaces (~2 ns a character for a split or
 * a replace); here a vectorised test finds whether there is a run at all, and one copy
 * drops the extra spaces (0.23 against 1.7 µs on a 750-character description).
 *
 * `unescape(text, convert)` replaces each HTML entity, found where html.unescape's own
 * pattern finds it (emergence.corpus.records._ENTITY), by convert(entity); the Python twin is
 * `_ENTITY.sub` with a callback (records.unescape_entities), which costs a Python call and
 * a match object per entity on top of the regex scan (0.8 against 1.9 µs on an
 * entity-bearing description).
 *
 * tests/test_speedups.py checks each against its twin. Built only where SSE2 exists
 * (x86-64 always has it): elsewhere setup.py's optional build fails quietly and the
 * Python twins run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if !defined(__SSE2__)
#error "emergence._speedups needs SSE2; the loader uses its Python twins without it"
#endif
#include <emmintrin.h>

static inline int
interesting(const unsigned char *a, Py_ssize_t i, Py_ssize_t n)
{
    unsigned char c = a[i];
    if ((unsigned char)(c - 0x20) >= 0x5F || c == 0x26 || c == 0x5C)
        return 1;
    return i + 1 < n && (c | 2) == 0x22 && (a[i + 1] | 2) == 0x22;
}

/* Positions go to out[k] while k < cap; k counts on past it. */
#define EMIT(pos)          \
    do {                   \
        if (k < cap)       \
            out[k] = (pos); \
        k++;               \
    } while (0)

static Py_ssize_t
scan(const unsigned char *a, Py_ssize_t n, int64_t *out, Py_ssize_t cap)
{
    const __m128i two = _mm_set1_epi8(2), quote = _mm_set1_epi8(0x22);
    const __m128i space = _mm_set1_epi8(0x20), printable = _mm_set1_epi8(0x5F);
    const __m128i amp = _mm_set1_epi8(0x26), backslash = _mm_set1_epi8(0x5C);
    Py_ssize_t k = 0, i = 0;
    /* i + 17 <= n: the pair test reads one byte past the 16 */
    for (; i + 17 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i w = _mm_loadu_si128((const __m128i *)(a + i + 1));
        __m128i pair = _mm_and_si128(_mm_cmpeq_epi8(_mm_or_si128(v, two), quote),
                                     _mm_cmpeq_epi8(_mm_or_si128(w, two), quote));
        /* below 0x20 or from 0x7F: (c - 0x20) mod 256 >= 0x5F, unsigned, as max(x, 0x5F) == x */
        __m128i x = _mm_sub_epi8(v, space);
        __m128i hit = _mm_cmpeq_epi8(_mm_max_epu8(x, printable), x);
        hit = _mm_or_si128(hit, pair);
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, amp));
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, backslash));
        unsigned bits = (unsigned)_mm_movemask_epi8(hit);
        while (bits) {
            EMIT(i + __builtin_ctz(bits));
            bits &= bits - 1;
        }
    }
    for (; i < n; i++)
        if (interesting(a, i, n))
            EMIT(i);
    return k;
}

static PyObject *
events(PyObject *self, PyObject *args)
{
    Py_buffer block, out;
    Py_ssize_t n, k;
    if (!PyArg_ParseTuple(args, "y*nw*", &block, &n, &out))
        return NULL;
    if (n < 0 || n > block.len) {
        PyErr_Format(PyExc_ValueError, "n=%zd outside the block (%zd bytes)", n, block.len);
        goto fail;
    }
    if (out.itemsize != 8 || out.readonly) {
        PyErr_SetString(PyExc_ValueError, "out must be a writable buffer of int64 items");
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    k = scan((const unsigned char *)block.buf, n, (int64_t *)out.buf, out.len / 8);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&block);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(k);
fail:
    PyBuffer_Release(&block);
    PyBuffer_Release(&out);
    return NULL;
}

/* Space collapsing, in two steps: is there a space after a space between the ends (no
 * branch per character, which the compiler vectorises), and if so a copy without each
 * such space. Spaces are too frequent and irregular in prose for a branch on one to be
 * predicted, so the copy of 1-byte text (most text) goes 16 characters at a time with
 * SSE2, one store for a piece without a run; 2- and 4-byte text is copied one character
 * at a time. `squeeze` copies src[start:end] (src[start] not a space) to buf and returns
 * the length copied. */
#define RUNS_AND_SQUEEZE(T, NAME)                                                  \
    static int runs_##NAME(const T *src, Py_ssize_t start, Py_ssize_t end)         \
    {                                                                              \
        int runs = 0;                                                              \
        for (Py_ssize_t i = start + 1; i < end; i++)                               \
            runs |= (src[i] == ' ') & (src[i - 1] == ' ');                         \
        return runs;                                                               \
    }                                                                              \
    static Py_ssize_t squeeze_##NAME(const T *src, Py_ssize_t start, Py_ssize_t end, \
                                     T *buf, Py_ssize_t i, Py_ssize_t out)         \
    {                                                                              \
        for (; i < end; i++)                                                       \
            if (!(src[i] == ' ' && src[i - 1] == ' '))                             \
                buf[out++] = src[i];                                               \
        return out;                                                                \
    }

RUNS_AND_SQUEEZE(Py_UCS1, ucs1)
RUNS_AND_SQUEEZE(Py_UCS2, ucs2)
RUNS_AND_SQUEEZE(Py_UCS4, ucs4)

static Py_ssize_t
squeeze_ucs1_sse2(const Py_UCS1 *src, Py_ssize_t start, Py_ssize_t end, Py_UCS1 *buf)
{
    const __m128i space = _mm_set1_epi8(' ');
    Py_ssize_t i = start + 1, out = 1;
    buf[0] = src[start];
    /* out <= i - start, so a 16-byte store at buf + out ends inside buf (end - start bytes) */
    for (; i + 16 <= end; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i w = _mm_loadu_si128((const __m128i *)(src + i - 1));
        unsigned drop = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(w, space)));
        if (!drop) {
            _mm_storeu_si128((__m128i *)(buf + out), v);
            out += 16;
            continue;
        }
        for (int j = 0; j < 16; j++)
            if (!((drop >> j) & 1))
                buf[out++] = src[i + j];
    }
    return squeeze_ucs1(src, start, end, buf, i, out);
}

static PyObject *
collapse_spaces(PyObject *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "collapse_spaces() takes a str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), start = 0, end = len, out;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    while (start < end && PyUnicode_READ(kind, data, start) == ' ')
        start++;
    while (end > start && PyUnicode_READ(kind, data, end - 1) == ' ')
        end--;
    int runs = kind == PyUnicode_1BYTE_KIND   ? runs_ucs1(data, start, end)
               : kind == PyUnicode_2BYTE_KIND ? runs_ucs2(data, start, end)
                                              : runs_ucs4(data, start, end);
    if (!runs) { /* at most the ends go */
        if (start == 0 && end == len) {
            Py_INCREF(text);
            return text;
        }
        return PyUnicode_Substring(text, start, end);
    }
    void *buf = PyMem_Malloc((size_t)(end - start) * (size_t)kind);
    if (buf == NULL)
        return PyErr_NoMemory();
    if (kind == PyUnicode_1BYTE_KIND)
        out = squeeze_ucs1_sse2(data, start, end, buf);
    else if (kind == PyUnicode_2BYTE_KIND) {
        ((Py_UCS2 *)buf)[0] = ((const Py_UCS2 *)data)[start];
        out = squeeze_ucs2(data, start, end, buf, start + 1, 1);
    } else {
        ((Py_UCS4 *)buf)[0] = ((const Py_UCS4 *)data)[start];
        out = squeeze_ucs4(data, start, end, buf, start + 1, 1);
    }
    PyObject *result = PyUnicode_FromKindAndData(kind, buf, out);
    PyMem_Free(buf);
    return result;
}

/* HTML entities, found exactly where emergence.corpus.records._ENTITY (html.unescape's own pattern,
 * `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`) finds them, each replaced by
 * convert(entity) (records._clean_entity, which asks html.unescape). The pattern starts
 * with '&', so matches start at an '&', and none holds another '&' after its first
 * character: scanning from '&' to '&' and resuming after each match finds what re.sub
 * finds. */
static Py_ssize_t
find_amp(int kind, const void *data, Py_ssize_t from, Py_ssize_t len)
{
    if (from >= len)
        return -1;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *hit = memchr((const Py_UCS1 *)data + from, '&', (size_t)(len - from));
        return hit ? hit - (const Py_UCS1 *)data : -1;
    }
    if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *text = data;
        for (Py_ssize_t i = from; i < len; i++)
            if (text[i] == '&')
                return i;
    } else {
        const Py_UCS4 *text = data;
        for (Py_ssize_t i = from; i < len; i++)
            if (text[i] == '&')
                return i;
    }
    return -1;
}

static inline int
is_digit(Py_UCS4 c)
{
    return c >= '0' && c <= '9';
}

static inline int
is_hex(Py_UCS4 c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int
is_name(Py_UCS4 c)
{
    return !(c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';');
}

/* The end of the match at `at` (an '&'), or -1: the pattern's three alternatives in order. */
static Py_ssize_t
entity_end(int kind, const void *data, Py_ssize_t len, Py_ssize_t at)
{
#define AT(i) PyUnicode_READ(kind, data, (i))
    Py_ssize_t j = at + 1, k;
    if (j < len && AT(j) == '#') {
        for (k = j + 1; k < len && is_digit(AT(k)); k++)
            ;
        if (k == j + 1) { /* no decimal digit: '#x' and hex digits, or no match ('#' is no name character) */
            if (!(k < len && (AT(k) == 'x' || AT(k) == 'X')))
                return -1;
            for (k = j + 2; k < len && is_hex(AT(k)); k++)
                ;
            if (k == j + 2)
                return -1;
        }
    } else {
        for (k = j; k < len && k - j < 32 && is_name(AT(k)); k++)
            ;
        if (k == j)
            return -1;
    }
    return k < len && AT(k) == ';' ? k + 1 : k;
#undef AT
}

static int
append_piece(PyObject *pieces, PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *piece = PyUnicode_Substring(text, start, end);
    if (piece == NULL)
        return -1;
    int failed = PyList_Append(pieces, piece);
    Py_DECREF(piece);
    return failed;
}

static PyObject *
unescape(PyObject *self, PyObject *args)
{
    PyObject *text, *convert, *pieces = NULL, *entity, *replacement, *empty, *result;
    if (!PyArg_ParseTuple(args, "UO:unescape", &text, &convert))
        return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), last = 0, at, end;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (at = find_amp(kind, data, 0, len); at >= 0; at = find_amp(kind, data, end, len)) {
        end = entity_end(kind, data, len, at);
        if (end < 0) {
            end = at + 1;
            continue;
        }
        if (pieces == NULL && (pieces = PyList_New(0)) == NULL)
            return NULL;
        if (at > last && append_piece(pieces, text, last, at) < 0)
            goto fail;
        if ((entity = PyUnicode_Substring(text, at, end)) == NULL)
            goto fail;
        replacement = PyObject_CallOneArg(convert, entity);
        Py_DECREF(entity);
        if (replacement == NULL)
            goto fail;
        if (!PyUnicode_Check(replacement)) {
            PyErr_Format(PyExc_TypeError, "convert() returned %.100s, not str", Py_TYPE(replacement)->tp_name);
            Py_DECREF(replacement);
            goto fail;
        }
        int failed = PyList_Append(pieces, replacement);
        Py_DECREF(replacement);
        if (failed < 0)
            goto fail;
        last = end;
    }
    if (pieces == NULL) {
        Py_INCREF(text);
        return text;
    }
    if (last < len && append_piece(pieces, text, last, len) < 0)
        goto fail;
    if ((empty = PyUnicode_New(0, 0)) == NULL)
        goto fail;
    result = PyUnicode_Join(empty, pieces);
    Py_DECREF(empty);
    Py_DECREF(pieces);
    return result;
fail:
    Py_XDECREF(pieces);
    return NULL;
}

static PyMethodDef methods[] = {
    {"events", events, METH_VARARGS,
     "events(block, n, out) -> count: positions of the bytes of block[:n] the loader's scan "
     "looks at, written ascending to out (writable, int64) as far as it holds them."},
    {"collapse_spaces", collapse_spaces, METH_O,
     "collapse_spaces(text) -> str: every run of spaces (U+0020) made one, spaces stripped from "
     "both ends; `text` itself when nothing changes."},
    {"unescape", unescape, METH_VARARGS,
     "unescape(text, convert) -> str: each HTML entity (html.unescape's pattern) replaced by "
     "convert(entity); `text` itself when there is none."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "C twins of the loader's byte scan, space collapsing and entity unescaping: see emergence/_speedups.c.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}

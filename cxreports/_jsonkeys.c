/*
 * cxreports._jsonkeys: whether JSON text repeats a key in one object, and the text without
 * the earlier pairs of each repeated key, in one pass over its bytes. See
 * cxreports/jsonkeys.py for why the loader asks and what it does with the answer.
 *
 * The scan skips strings (and their escapes) and tracks the objects open around each byte.
 * Each key read is hashed (FNV-1a, 64 bits), mixed with a number given to its object, and
 * looked up in one open-addressing table shared by every open object; the keys of the open
 * objects are also kept on a stack (where each pair begins and the comma after it), so that
 * when the table fills with the keys of objects since closed it is rebuilt from the stack
 * alone. A look-up walks MAX_PROBES slots at most, so each key costs O(1) whatever the input,
 * keys chosen to collide too. A key met again in its object (the same bytes) marks its
 * earlier pair, from its opening quote to its comma, to be left out: what is left is the text
 * with each key once and its last value, every other byte as it was.
 *
 * It cannot tell cheaply (and leaves it to the standard library's parser) where a key is
 * written with a backslash escape (one key can be spelled two ways), more than MAX_OPEN_KEYS
 * keys are open at once, a look-up walks past MAX_PROBES slots, or two keys of one object
 * share a hash. Text that is not JSON gets some answer; the parsers reject it either way. The
 * GIL is released while it runs.
 *
 * The same pass finds where an API page keeps its records (page_records): the array at
 * cxLogs.data of the top object, if every element of it is an object. The loader then reads
 * that array alone, which polars does faster than the page around it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPEN_KEYS (1 << 16)
#define MAX_PROBES 64 /* a table at most half full needs 2 on average */
#define FIRST_BITS 12 /* 32 KB: stays in the cache while most objects have a few dozen keys */

/* A key held for an open object: its mixed hash, where its pair begins (the key's opening
   quote) and the comma after its value (0 until one is read). */
typedef struct {
    uint64_t v;
    size_t start, len, comma;
} Key;

typedef struct {
    uint64_t v;      /* 0 = empty slot */
    uint32_t key;    /* the index in Scan.keys of the latest key with this hash */
} Slot;

typedef struct {
    Slot *table;
    Key *keys;       /* the open objects' keys, outermost first */
    size_t used;     /* slots taken in the table, by open and closed objects' keys */
    int bits;        /* the table has 2^bits slots */
    size_t (*drop)[2]; /* byte spans of earlier pairs of a repeated key */
    size_t drops, room;
    /* the records of a page: the array at cxLogs.data, from its '[' to after its ']' */
    size_t records_start, records_end, records; /* records: its elements, all objects */
    int records_bad;   /* an element of it is not an object */
    int complete;      /* the scan reached the end with every object and array closed */
} Scan;

static inline size_t slot_of(uint64_t v, int bits) {
    return (size_t)((v * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* The slot of v: where it is, or the empty one where it goes; NULL if not found within
   MAX_PROBES slots (keys chosen to collide would make each look-up a walk through all of
   them: the standard library's parser decides instead). */
static inline Slot *find(Scan *s, uint64_t v) {
    size_t mask = ((size_t)1 << s->bits) - 1, i = slot_of(v, s->bits);
    for (int probes = 0; s->table[i].v && s->table[i].v != v; probes++) {
        if (probes == MAX_PROBES)
            return NULL;
        i = (i + 1) & mask;
    }
    return &s->table[i];
}

/* the bytes the scan acts on; every other byte (space, digits, letters) is skipped */
static const uint8_t TOKEN[256] = {['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1, [','] = 1};

/* The table half full: keep only the open objects' keys (the latest of each), in a table
   twice as large if they alone fill a quarter of it. -1 if memory runs out, 1 if they
   collide past MAX_PROBES. */
static int rebuild(Scan *s, size_t top) {
    if (top > ((size_t)1 << s->bits) / 4) {
        Slot *larger = realloc(s->table, ((size_t)2 << s->bits) * sizeof(Slot));
        if (!larger)
            return -1;
        s->table = larger;
        s->bits++;
    }
    memset(s->table, 0, ((size_t)1 << s->bits) * sizeof(Slot));
    s->used = 0;
    for (size_t k = 0; k < top; k++) {
        Slot *slot = find(s, s->keys[k].v);
        if (!slot)
            return 1;
        s->used += !slot->v;
        slot->v = s->keys[k].v;
        slot->key = (uint32_t)k;
    }
    return 0;
}

/* What the scan holds for each open object or array, as deep as the text nests. */
typedef struct {
    uint8_t is_object;
    uint8_t role;     /* 1: the page's cxLogs object; 2: its data array (the records) */
    uint64_t mix;     /* an object's number, spread over 64 bits */
    size_t first_key; /* where an object's keys start in Scan.keys */
} Level;

/* The first byte at or after i that is not JSON white space; 0 at the end of the text. */
static inline unsigned char next_byte(const unsigned char *buf, size_t n, size_t i) {
    while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    return i < n ? buf[i] : 0;
}

static inline int is_key(const unsigned char *buf, size_t start, size_t len, const char *name) {
    return len == strlen(name) && memcmp(buf + start, name, len) == 0;
}

/* 0: no object repeats a key; 1: the spans in s->drop are the earlier pairs of each repeated
   key; 2: cannot tell cheaply (see the top); -1: out of memory. */
static int scan(const unsigned char *buf, size_t n, Scan *s) {
    size_t levels = 64;
    Level *level = malloc(levels * sizeof(Level));
    size_t top = 0; /* keys held on the stack */
    uint64_t objects = 0;
    ptrdiff_t depth = -1;
    int expect_key = 0, answer = 0;
    int pending = 0; /* the value about to be read is cxLogs' (1) or its data's (2) */
    size_t i = 0;

    s->bits = FIRST_BITS;
    s->table = calloc((size_t)1 << s->bits, sizeof(Slot));
    s->keys = malloc(MAX_OPEN_KEYS * sizeof(Key));
    s->used = s->drops = s->room = 0;
    s->drop = NULL;
    s->records_start = s->records_end = s->records = 0;
    s->records_bad = s->complete = 0;
    if (!s->table || !s->keys || !level) {
        answer = -1;
        goto done;
    }
    while (i < n) {
        while (i < n && !TOKEN[buf[i]])
            i++;
        if (i == n)
            break;
        unsigned char c = buf[i];
        int role = pending; /* what the token opens, if it is the value of such a key */
        pending = 0;
        if (c == '"') {
            size_t j = i + 1;
            if (expect_key) {
                uint64_t h = 14695981039346656037ull; /* FNV-1a */
                for (; j < n && buf[j] != '"'; j++) {
                    if (buf[j] == '\\') {
                        answer = 2; /* an escape: the same key may be spelled two ways */
                        goto done;
                    }
                    h = (h ^ buf[j]) * 1099511628211ull;
                }
                uint64_t v = h ^ level[depth].mix;
                if (!v)
                    v = 1;
                Slot *slot = top == MAX_OPEN_KEYS ? NULL : find(s, v);
                if (!slot) {
                    answer = 2;
                    goto done;
                }
                if (slot->v) { /* a repeat: its earlier pair, up to its comma, goes */
                    Key *earlier = &s->keys[slot->key];
                    size_t len = j - i - 1;
                    if (slot->key < level[depth].first_key || earlier->len != len ||
                        memcmp(buf + earlier->start + 1, buf + i + 1, len) != 0 ||
                        !earlier->comma) {
                        /* two keys of one hash (a chance of 2^-64, or chosen), or not JSON:
                           the standard library's parser decides */
                        answer = 2;
                        goto done;
                    }
                    if (s->drops == s->room) {
                        size_t room = s->room ? 2 * s->room : 16;
                        size_t(*more)[2] = realloc(s->drop, room * sizeof *s->drop);
                        if (!more) {
                            answer = -1;
                            goto done;
                        }
                        s->drop = more;
                        s->room = room;
                    }
                    s->drop[s->drops][0] = earlier->start;
                    s->drop[s->drops][1] = earlier->comma + 1;
                    s->drops++;
                    answer = 1;
                } else {
                    slot->v = v;
                    s->used++;
                }
                slot->key = (uint32_t)top;
                s->keys[top++] = (Key){v, i, j - i - 1, 0};
                if (s->used > ((size_t)1 << s->bits) / 2) {
                    int rebuilt = rebuild(s, top);
                    if (rebuilt) {
                        answer = rebuilt < 0 ? -1 : 2;
                        goto done;
                    }
                }
                size_t start = i + 1, len = j - i - 1;
                if (depth == 0 && is_key(buf, start, len, "cxLogs"))
                    pending = 1;
                else if (level[depth].role == 1 && is_key(buf, start, len, "data"))
                    pending = 2;
                expect_key = 0;
            } else {
                /* the next quote not escaped: one preceded by an even run of backslashes */
                for (;;) {
                    const unsigned char *q = memchr(buf + j, '"', n - j);
                    if (!q) {
                        j = n;
                        break;
                    }
                    size_t k = (size_t)(q - buf), run = 0;
                    while (k - run > i + 1 && buf[k - run - 1] == '\\')
                        run++;
                    j = k;
                    if (run % 2 == 0)
                        break;
                    j++;
                }
            }
            i = j + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            if ((size_t)++depth == levels) {
                Level *deeper = realloc(level, 2 * levels * sizeof(Level));
                if (!deeper) {
                    answer = -1;
                    goto done;
                }
                level = deeper;
                levels *= 2;
            }
            level[depth].is_object = c == '{';
            level[depth].role = 0;
            if (depth > 0 && level[depth - 1].role == 2)
                s->records++; /* an element of the records (only objects are let through) */
            if (role == 1 && c == '{' && depth == 1)
                level[depth].role = 1;
            else if (role == 2 && c == '[' && depth == 2) {
                level[depth].role = 2;
                s->records_start = i;
                unsigned char first = next_byte(buf, n, i + 1);
                if (first != '{' && first != ']')
                    s->records_bad = 1;
            }
            if (c == '{') {
                level[depth].first_key = top;
                level[depth].mix = (++objects) * 0xD6E8FEB86659FD93ull;
            }
            expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            if (depth < 0)
                goto done; /* not JSON: the parser says what is wrong */
            if (level[depth].is_object)
                top = level[depth].first_key;
            if (level[depth].role == 2)
                s->records_end = i + 1; /* (once: a second cxLogs or data is a repeat) */
            depth--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = depth >= 0 && level[depth].is_object;
            if (depth >= 0 && level[depth].role == 2 && next_byte(buf, n, i + 1) != '{')
                s->records_bad = 1;
            if (expect_key && top > level[depth].first_key)
                s->keys[top - 1].comma = i; /* the object's latest pair ends here */
        }
        i++;
    }
    s->complete = depth == -1;
done:
    free(s->table);
    free(s->keys);
    free(level);
    return answer;
}

static int by_start(const void *a, const void *b) {
    size_t x = ((const size_t *)a)[0], y = ((const size_t *)b)[0];
    return (x > y) - (x < y);
}

/* data without the spans (sorted; one inside another's value goes with it) */
static PyObject *without(const char *data, size_t n, size_t (*drop)[2], size_t drops) {
    qsort(drop, drops, sizeof *drop, by_start);
    size_t kept = n, end = 0;
    for (size_t k = 0; k < drops; k++)
        if (drop[k][0] >= end) {
            kept -= drop[k][1] - drop[k][0];
            end = drop[k][1];
        }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)kept);
    if (!out)
        return NULL;
    char *to = PyBytes_AS_STRING(out);
    size_t from = 0;
    end = 0;
    for (size_t k = 0; k < drops; k++) {
        if (drop[k][0] < end)
            continue;
        memcpy(to, data + from, drop[k][0] - from);
        to += drop[k][0] - from;
        from = end = drop[k][1];
    }
    memcpy(to, data + from, n - from);
    return out;
}

/* (repeats, once) as keys_once gives them; with records, also where a page's records are */
static PyObject *run_scan(PyObject *args, const char *format, int records) {
    Py_buffer data;
    Scan s;
    int answer;
    PyObject *out = NULL, *once = NULL, *span = NULL;
    if (!PyArg_ParseTuple(args, format, &data))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    answer = scan((const unsigned char *)data.buf, (size_t)data.len, &s);
    Py_END_ALLOW_THREADS
    if (answer < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    if (answer == 1) {
        once = without((const char *)data.buf, (size_t)data.len, s.drop, s.drops);
        if (!once)
            goto fail;
    } else {
        once = Py_NewRef(Py_None);
    }
    if (!records) {
        out = PyTuple_Pack(2, answer ? Py_True : Py_False, once);
    } else {
        if (answer == 0 && s.complete && s.records_end && !s.records_bad)
            span = Py_BuildValue("(nnn)", (Py_ssize_t)s.records_start,
                                 (Py_ssize_t)s.records_end, (Py_ssize_t)s.records);
        else
            span = Py_NewRef(Py_None);
        if (span)
            out = PyTuple_Pack(3, answer ? Py_True : Py_False, once, span);
    }
fail:
    Py_XDECREF(once);
    Py_XDECREF(span);
    free(s.drop);
    PyBuffer_Release(&data);
    return out;
}

static PyObject *keys_once(PyObject *self, PyObject *args) {
    return run_scan(args, "y*:keys_once", 0);
}

static PyObject *page_records(PyObject *self, PyObject *args) {
    return run_scan(args, "y*:page_records", 1);
}

static PyMethodDef methods[] = {
    {"keys_once", keys_once, METH_VARARGS,
     "keys_once(data, /)\n--\n\n(whether some object in the JSON text repeats a key, the text "
     "without the earlier pairs of each repeated key or None where it cannot tell)"},
    {"page_records", page_records, METH_VARARGS,
     "page_records(data, /)\n--\n\nkeys_once's answer and text, and (start, end, records): "
     "the byte span of the array at cxLogs.data and its elements, where the text is one "
     "closed object, repeats no key and every element of that array is an object; else None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonkeys", "Whether JSON text repeats a key in one object.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__jsonkeys(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "MAX_OPEN_KEYS", MAX_OPEN_KEYS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_PROBES", MAX_PROBES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

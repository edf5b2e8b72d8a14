/*
 * cxreports._jsonkeys: whether JSON text repeats a key in one object, in one pass over its
 * bytes. See cxreports/jsonkeys.py for why the loader asks and what the answer means.
 *
 * The scan skips strings (and their escapes) and tracks the objects open around each byte.
 * Each key read is hashed (FNV-1a, 64 bits), mixed with a number given to its object, and
 * looked up in one open-addressing table shared by every open object; the keys of the open
 * objects are also kept on a stack, so that when the table fills with the keys of objects
 * since closed it is rebuilt from the stack alone. A look-up walks MAX_PROBES slots at most,
 * so each key costs O(1) whatever the input, keys chosen to collide too.
 *
 * It answers 1 (yes, or cannot tell cheaply: the standard library's parser decides) for a
 * repeated key; a key written with a backslash escape (one key can be spelled two ways); more
 * than MAX_OPEN_KEYS keys open at once; a look-up past MAX_PROBES slots; two keys whose
 * mixed hashes collide (a chance of 2^-64 a pair). Text that is not JSON gets some answer;
 * the parsers reject it either way. The GIL is released while it runs.
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

typedef struct {
    uint64_t *table; /* 0 = empty slot */
    uint64_t *keys;  /* mixed hashes of the open objects' keys, outermost first */
    size_t used;     /* slots taken in the table, by open and closed objects' keys */
    int bits;        /* the table has 2^bits slots */
} Scan;

static inline size_t slot_of(uint64_t v, int bits) {
    return (size_t)((v * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* 1 if v is already in the table (a repeated key), or if it is not found within
   MAX_PROBES slots (keys chosen to collide would make each look-up a walk through all of
   them: the careful path decides instead); else inserts it and returns 0 */
static inline int seen(Scan *s, uint64_t v) {
    size_t mask = ((size_t)1 << s->bits) - 1, i = slot_of(v, s->bits);
    for (int probes = 0; s->table[i]; probes++) {
        if (s->table[i] == v || probes == MAX_PROBES)
            return 1;
        i = (i + 1) & mask;
    }
    s->table[i] = v;
    s->used++;
    return 0;
}

/* the bytes the scan acts on; every other byte (space, digits, letters) is skipped */
static const uint8_t TOKEN[256] = {['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1, [','] = 1};

/* The table half full: keep only the open objects' keys, in a table twice as large if they
   alone fill a quarter of it. -1 if memory runs out, 1 if they collide past MAX_PROBES. */
static int rebuild(Scan *s, size_t top) {
    if (top > ((size_t)1 << s->bits) / 4) {
        uint64_t *larger = realloc(s->table, ((size_t)2 << s->bits) * sizeof(uint64_t));
        if (!larger)
            return -1;
        s->table = larger;
        s->bits++;
    }
    memset(s->table, 0, ((size_t)1 << s->bits) * sizeof(uint64_t));
    s->used = 0;
    for (size_t k = 0; k < top; k++)
        if (seen(s, s->keys[k]))
            return 1; /* the open keys alone collide past MAX_PROBES */
    return 0;
}

/* What the scan holds for each open object or array, as deep as the text nests. */
typedef struct {
    uint8_t is_object;
    uint64_t mix;     /* an object's number, spread over 64 bits */
    size_t first_key; /* where an object's keys start in Scan.keys */
} Level;

static int scan(const unsigned char *buf, size_t n) {
    Scan s;
    size_t levels = 64;
    Level *level = malloc(levels * sizeof(Level));
    size_t top = 0; /* keys held on the stack */
    uint64_t objects = 0;
    ptrdiff_t depth = -1;
    int expect_key = 0, answer = 0;
    size_t i = 0;

    s.bits = FIRST_BITS;
    s.table = calloc((size_t)1 << s.bits, sizeof(uint64_t));
    s.keys = malloc(MAX_OPEN_KEYS * sizeof(uint64_t));
    s.used = 0;
    if (!s.table || !s.keys || !level) {
        answer = -1;
        goto done;
    }
    while (i < n) {
        while (i < n && !TOKEN[buf[i]])
            i++;
        if (i == n)
            break;
        unsigned char c = buf[i];
        if (c == '"') {
            size_t j = i + 1;
            if (expect_key) {
                uint64_t h = 14695981039346656037ull; /* FNV-1a */
                for (; j < n && buf[j] != '"'; j++) {
                    if (buf[j] == '\\') {
                        answer = 1; /* an escape: the same key may be spelled two ways */
                        goto done;
                    }
                    h = (h ^ buf[j]) * 1099511628211ull;
                }
                uint64_t v = h ^ level[depth].mix;
                if (!v)
                    v = 1;
                if (top == MAX_OPEN_KEYS || seen(&s, v)) {
                    answer = 1;
                    goto done;
                }
                s.keys[top++] = v;
                if (s.used > ((size_t)1 << s.bits) / 2 && (answer = rebuild(&s, top)) != 0)
                    goto done;
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
            depth--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = depth >= 0 && level[depth].is_object;
        }
        i++;
    }
done:
    free(s.table);
    free(s.keys);
    free(level);
    return answer;
}

static PyObject *repeats_a_key(PyObject *self, PyObject *args) {
    Py_buffer data;
    int answer;
    if (!PyArg_ParseTuple(args, "y*:repeats_a_key", &data))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    answer = scan((const unsigned char *)data.buf, (size_t)data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (answer < 0)
        return PyErr_NoMemory();
    return PyBool_FromLong(answer);
}

static PyMethodDef methods[] = {
    {"repeats_a_key", repeats_a_key, METH_VARARGS,
     "repeats_a_key(data, /)\n--\n\nWhether some object in the JSON text repeats a key."},
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

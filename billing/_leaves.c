/* The two hot loops of a period's Merkle tree (billing/tree.py), in C over OpenSSL's SHA-256.
 *
 * Ten million bills a period are ten million HMACs and twenty million SHA-256 blocks: in
 * Python that costs as much as the billing itself. This module only loops; what is hashed,
 * and the pure-Python twin it must equal, are in billing/leafhash.py (tested against each
 * other and against RFC 9162's vectors). Optional: without a compiler the twin is used. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: the low-level calls, no EVP fetch */
#include <openssl/sha.h>

#define FIELDS 5                            /* membership, gross, waived, capped, charged */
#define RECORD_SIZE (FIELDS * 8)            /* big-endian int8s, as int8send writes them */
#define LEAF_SIZE (1 + 1 + 8 + 32 + 4 * 8) /* 0x00, version, period, pseudonym, amounts */

static int64_t get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return (int64_t)v;
}

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* OpenSSL 3's one-shot SHA256() fetches the algorithm on every call (EVP_Q_digest): 4x slower
 * for short inputs than the low-level calls. */
static void sha256(const unsigned char *data, size_t size, unsigned char *digest) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, size);
    SHA256_Final(digest, &ctx);
}

static PyObject *leaf_hashes(PyObject *self, PyObject *args) {
    Py_buffer records, key;
    long long period;
    if (!PyArg_ParseTuple(args, "y*Ly*", &records, &period, &key)) return NULL;
    PyObject *ids = NULL, *hashes = NULL, *result = NULL;
    if (key.len != SHA256_CBLOCK) {
        PyErr_SetString(PyExc_ValueError, "the leaf key must be one padded 64-byte block");
        goto done;
    }
    if (records.len % RECORD_SIZE != 0) {
        PyErr_SetString(PyExc_ValueError, "bills are records of five 8-byte integers");
        goto done;
    }
    Py_ssize_t count = records.len / RECORD_SIZE;
    const unsigned char *rows = records.buf;
    ids = PyBytes_FromStringAndSize(NULL, count * 8);
    hashes = PyBytes_FromStringAndSize(NULL, count * SHA256_DIGEST_LENGTH);
    if (ids == NULL || hashes == NULL) goto done;
    unsigned char *id_out = (unsigned char *)PyBytes_AS_STRING(ids);
    unsigned char *hash_out = (unsigned char *)PyBytes_AS_STRING(hashes);
    int in_order = 1;

    Py_BEGIN_ALLOW_THREADS
    /* HMAC (RFC 2104) with the pads' first block hashed once, then copied per leaf. */
    unsigned char pad[SHA256_CBLOCK];
    SHA256_CTX inner_start, outer_start, ctx;
    const unsigned char *k = key.buf;
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&inner_start);
    SHA256_Update(&inner_start, pad, SHA256_CBLOCK);
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&outer_start);
    SHA256_Update(&outer_start, pad, SHA256_CBLOCK);

    unsigned char message[16], inner[SHA256_DIGEST_LENGTH], leaf[LEAF_SIZE];
    put_be64(message, (uint64_t)period);
    leaf[0] = 0x00; /* RFC 9162's leaf prefix */
    leaf[1] = 1;    /* the leaf format's version */
    put_be64(leaf + 2, (uint64_t)period);
    for (Py_ssize_t r = 0; r < count; r++) {
        const unsigned char *row = rows + r * RECORD_SIZE;
        /* Each id read once, into the output: a bytearray changed by another thread while
         * the GIL is released cannot pass the order check with other ids than it hashes. */
        memcpy(id_out + r * 8, row, 8);
        if (r > 0 && get_be64(id_out + r * 8) <= get_be64(id_out + (r - 1) * 8)) {
            in_order = 0;
            break;
        }
        memcpy(message + 8, id_out + r * 8, 8);
        ctx = inner_start;
        SHA256_Update(&ctx, message, sizeof message);
        SHA256_Final(inner, &ctx);
        ctx = outer_start;
        SHA256_Update(&ctx, inner, sizeof inner);
        SHA256_Final(leaf + 10, &ctx); /* the pseudonym */
        memcpy(leaf + 42, row + 8, 4 * 8); /* the amounts, as they are */
        sha256(leaf, LEAF_SIZE, hash_out + r * SHA256_DIGEST_LENGTH);
    }
    Py_END_ALLOW_THREADS

    if (!in_order) {
        PyErr_SetString(PyExc_ValueError, "bills are not in increasing membership order");
        goto done;
    }
    result = PyTuple_Pack(2, ids, hashes);
done:
    Py_XDECREF(ids);
    Py_XDECREF(hashes);
    PyBuffer_Release(&records);
    PyBuffer_Release(&key);
    return result;
}

static int by_membership(const void *a, const void *b) {
    const unsigned char *p = a, *q = b;
    for (int f = 0; f < FIELDS; f++) { /* then the amounts: Python's tuple order, for ties */
        int64_t x = get_be64(p + 8 * f), y = get_be64(q + 8 * f);
        if (x != y) return (x > y) - (x < y);
    }
    return 0;
}

/* A chunk's membership ids are unique and dense in their range: each record goes straight to
 * its slot (O(n), 5x faster than qsort at 250,000). Returns 0, leaving the data as it was,
 * when the ids are too sparse or repeat: qsort then (and leaf_hashes refuses a repeat). */
static int place_by_membership(unsigned char *data, Py_ssize_t count) {
    if (count < 2) return 1;
    int64_t low = get_be64(data), high = low;
    for (Py_ssize_t r = 1; r < count; r++) {
        int64_t id = get_be64(data + r * RECORD_SIZE);
        if (id < low) low = id;
        if (id > high) high = id;
    }
    uint64_t width = (uint64_t)high - (uint64_t)low; /* + 1 could wrap to 0 */
    /* slots hold a record's index + 1 as int32: beyond that, or too sparse, qsort */
    if (count > INT32_MAX || width >= (uint64_t)count * 4 + 1024) return 0;
    uint64_t span = width + 1;
    int32_t *slots = calloc(span, sizeof *slots); /* record index + 1, 0 for empty */
    unsigned char *sorted = malloc((size_t)count * RECORD_SIZE);
    int placed = slots != NULL && sorted != NULL;
    for (Py_ssize_t r = 0; placed && r < count; r++) {
        uint64_t slot = (uint64_t)get_be64(data + r * RECORD_SIZE) - (uint64_t)low;
        if (slots[slot]) placed = 0; /* a repeated id */
        else slots[slot] = (int32_t)(r + 1);
    }
    if (placed) {
        Py_ssize_t out = 0;
        for (uint64_t slot = 0; slot < span; slot++)
            if (slots[slot])
                memcpy(sorted + (out++) * RECORD_SIZE, data + (size_t)(slots[slot] - 1) * RECORD_SIZE,
                       RECORD_SIZE);
        memcpy(data, sorted, (size_t)count * RECORD_SIZE);
    }
    free(slots);
    free(sorted);
    return placed;
}

/* The records sorted by membership: PostgreSQL reads a chunk's bills fastest in the order
 * they lie on disk (a bitmap scan, not the index's order), and sorting here is cheaper. */
static PyObject *sorted_records(PyObject *self, PyObject *arg) {
    Py_buffer records;
    if (PyObject_GetBuffer(arg, &records, PyBUF_SIMPLE) < 0) return NULL;
    if (records.len % RECORD_SIZE != 0) {
        PyBuffer_Release(&records);
        PyErr_SetString(PyExc_ValueError, "bills are records of five 8-byte integers");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(records.buf, records.len);
    PyBuffer_Release(&records);
    if (result == NULL) return NULL;
    char *data = PyBytes_AS_STRING(result);
    Py_ssize_t count = PyBytes_GET_SIZE(result) / RECORD_SIZE;
    int placed;
    Py_BEGIN_ALLOW_THREADS
    placed = place_by_membership((unsigned char *)data, count);
    if (!placed) qsort(data, (size_t)count, RECORD_SIZE, by_membership);
    Py_END_ALLOW_THREADS
    return result;
}

static PyObject *perfect_root(PyObject *self, PyObject *arg) {
    Py_buffer leaves;
    if (PyObject_GetBuffer(arg, &leaves, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t count = leaves.len / SHA256_DIGEST_LENGTH;
    if (leaves.len % SHA256_DIGEST_LENGTH != 0 || count == 0 || (count & (count - 1)) != 0) {
        PyBuffer_Release(&leaves);
        PyErr_SetString(PyExc_ValueError, "a perfect tree needs 2**k leaf hashes");
        return NULL;
    }
    unsigned char *level = PyMem_Malloc(leaves.len);
    if (level == NULL) {
        PyBuffer_Release(&leaves);
        return PyErr_NoMemory();
    }
    memcpy(level, leaves.buf, leaves.len);
    PyBuffer_Release(&leaves);
    Py_BEGIN_ALLOW_THREADS
    unsigned char node[1 + 2 * SHA256_DIGEST_LENGTH];
    node[0] = 0x01; /* RFC 9162's node prefix */
    for (; count > 1; count /= 2) {
        for (Py_ssize_t i = 0; i < count / 2; i++) {
            memcpy(node + 1, level + 2 * i * SHA256_DIGEST_LENGTH, 2 * SHA256_DIGEST_LENGTH);
            sha256(node, sizeof node, level + i * SHA256_DIGEST_LENGTH);
        }
    }
    Py_END_ALLOW_THREADS
    PyObject *root = PyBytes_FromStringAndSize((char *)level, SHA256_DIGEST_LENGTH);
    PyMem_Free(level);
    return root;
}

static PyMethodDef methods[] = {
    {"leaf_hashes", leaf_hashes, METH_VARARGS,
     "leaf_hashes(records, period_id, padded_key) -> (ids, hashes): see billing/leafhash.py"},
    {"sorted_records", sorted_records, METH_O,
     "sorted_records(records) -> the records sorted by their first int8 (membership)"},
    {"perfect_root", perfect_root, METH_O,
     "perfect_root(hashes) -> root of 2**k concatenated leaf hashes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_leaves", NULL, -1, methods};

PyMODINIT_FUNC PyInit__leaves(void) { return PyModule_Create(&module); }

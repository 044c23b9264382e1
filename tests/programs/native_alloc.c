/*
 * native_alloc.c -- a C extension that allocates known bytes in known C
 * functions, for tests/e2e/test_native_memory.py (compiled there, once per
 * interpreter, with and without frame pointers).
 *
 * leak_malloc(n, size) and leak_pymem(n, size) keep n blocks of size bytes,
 * allocated in alloc_malloc (malloc) and alloc_pymem (PyMem_Malloc) under
 * keep_blocks: a leak.  churn(n, size) allocates and frees n blocks in
 * alloc_temp.  The functions are noinline and use what their callees
 * return, so each is a frame of its own.
 */
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_MAX 100000

static void *kept[KEEP_MAX];
static size_t nkept;
static volatile unsigned char sink;

__attribute__((noinline)) void *alloc_malloc(size_t size)
{
    unsigned char *p = malloc(size);
    if (p)
        memset(p, 1, size);             /* touched: resident, as a real leak */
    return p;
}

__attribute__((noinline)) void *alloc_pymem(size_t size)
{
    unsigned char *p = PyMem_Malloc(size);
    if (p)
        memset(p, 2, size);
    return p;
}

__attribute__((noinline)) void alloc_temp(size_t size)
{
    unsigned char *p = malloc(size);
    if (p) {
        memset(p, 3, size);
        sink += p[size - 1];
    }
    free(p);
}

__attribute__((noinline)) static int keep_blocks(long n, size_t size, int pymem)
{
    for (long i = 0; i < n && nkept < KEEP_MAX; i++) {
        void *p = pymem ? alloc_pymem(size) : alloc_malloc(size);
        if (!p)
            return -1;
        kept[nkept++] = p;
    }
    sink++;                             /* not a tail call: keep_blocks stays */
    return 0;
}

static PyObject *leak(PyObject *args, int pymem)
{
    long n, size;
    if (!PyArg_ParseTuple(args, "ll", &n, &size))
        return NULL;
    if (keep_blocks(n, (size_t)size, pymem) < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *leak_malloc(PyObject *self, PyObject *args)
{
    (void)self;
    return leak(args, 0);
}

static PyObject *leak_pymem(PyObject *self, PyObject *args)
{
    (void)self;
    return leak(args, 1);
}

static PyObject *churn(PyObject *self, PyObject *args)
{
    (void)self;
    long n, size;
    if (!PyArg_ParseTuple(args, "ll", &n, &size))
        return NULL;
    for (long i = 0; i < n; i++)
        alloc_temp((size_t)size);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"leak_malloc", leak_malloc, METH_VARARGS, "keep N blocks of SIZE bytes from malloc"},
    {"leak_pymem", leak_pymem, METH_VARARGS, "keep N blocks of SIZE bytes from PyMem_Malloc"},
    {"churn", churn, METH_VARARGS, "allocate and free N blocks of SIZE bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native_alloc", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_native_alloc(void)
{
    return PyModule_Create(&module);
}

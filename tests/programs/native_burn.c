/*
 * native_burn.c -- a C extension with known native frames, for
 * tests/e2e/test_native.py (compiled there, once per interpreter and per
 * set of flags).  burn(seconds) calls burn_a, which calls burn_b, which
 * spins; the GIL is released meanwhile, as real C extensions do.
 * spin(ms) calls native_spin.cpp's ns::Klass::spin(int), a C++ method.
 */
#include <Python.h>
#include <time.h>

static volatile unsigned long sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) void burn_b(double seconds)
{
    double end = now() + seconds;
    do {
        for (unsigned long i = 0; i < 10000000; i++)
            sink += i * 2654435761u;
    } while (now() < end);
}

__attribute__((noinline)) void burn_a(double seconds)
{
    burn_b(seconds);
    sink++;                             /* not a tail call: burn_a stays */
}

static PyObject *burn(PyObject *self, PyObject *arg)
{
    (void)self;
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    burn_a(seconds);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

void native_spin(int ms);               /* native_spin.cpp */

static PyObject *spin(PyObject *self, PyObject *arg)
{
    (void)self;
    long ms = PyLong_AsLong(arg);
    if (ms == -1 && PyErr_Occurred())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    native_spin((int)ms);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"burn", burn, METH_O, "spin in burn_a -> burn_b for SECONDS"},
    {"spin", spin, METH_O, "spin in C++'s ns::Klass::spin(int) for MS milliseconds"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native_burn", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_native_burn(void)
{
    return PyModule_Create(&module);
}

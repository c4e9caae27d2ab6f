/* The lean same-device move, many files per call (Linux).
 *
 * The executor's common case is a run of plain moves: check the source against the fingerprint the plan
 * recorded, then rename it without clobbering, both relative to open folder handles. In Python each of
 * those costs a stat_result, a ctypes call and the names' encoding, and holds the interpreter's lock the
 * whole time, so the batch writer thread waits for it. Here a chunk of items is read under the lock, then
 * checked and renamed with the lock released, then reported: the same system calls as the Python path
 * (fileops.fast_move, which stays the reference and the fallback), and nothing else.
 *
 * move_run(steps, start, stop, sources, targets, touched) -> (moved, why)
 *   steps      a list of Step (seq, action, src, dst, fp, ...)
 *   sources    FolderHandles._open of the sources: folder path -> (fd, st_dev)
 *   targets    the same for the targets
 *   touched    a set: the folders of every moved file are added (their entries must be made durable)
 *   moved      how many items from `start` were moved, in order
 *   why        0: reached `stop`; 1: item start+moved needs a folder handle that is not open;
 *              2: item start+moved is not a lean move or failed its check or rename (nothing was changed
 *              for it): the caller takes the general path, which looks again and says what is wrong.
 *
 * intent_rows(steps, start, dest_dev) -> (rows, stop)
 *   The intent's rows (Ledger.create_operation) for the plain items from `start` on: same-device moves
 *   (fp.dev == dest_dev, unless dest_dev is None) between ASCII paths, with a fingerprint, undoing nothing.
 *   Each row is (seq, file_id, src, dst, size, mtime_ns, dev, inode, src_dir_len, dst_dir_len), the values
 *   the Python loop in ledger.intent_runs binds (the reference, and the fallback); `stop` is the index of
 *   the first item that is not plain, or len(steps). Building the tuples here instead of in Python:
 *   0.068-0.082 -> 0.033-0.044 s at 100,000 items, before the first file moves
 *   (docs/organize-benchmark-log.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

#define CHUNK 256

typedef struct {
    int sfd, dfd;
    /* NUL-terminated, inside the UTF-8 of src and dst: an ASCII str's own bytes; for any other, a copy that
     * Python caches in the str for its life (the step's), a few hundred bytes a move at most. */
    const char *sname, *dname;
    unsigned long long ino, dev, ddev;
    long long size, mtime_ns;
    PyObject *src, *dst, *sdir, *ddir; /* new references, held until the chunk is reported */
} Entry;

static void release(Entry *e) {
    Py_CLEAR(e->src);
    Py_CLEAR(e->dst);
    Py_CLEAR(e->sdir);
    Py_CLEAR(e->ddir);
}

static PyObject *s_action, *s_src, *s_dst, *s_fp, *s_move, *s_seq, *s_file_id, *s_undo_of;

/* An int field, or 0 (no error set) when it is not one that fits: the item then takes the general path. */
static int as_signed(PyObject *o, long long *out) {
    if (!PyLong_Check(o))
        return 0;
    *out = PyLong_AsLongLong(o);
    if (*out == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static int as_unsigned(PyObject *o, unsigned long long *out) {
    if (!PyLong_Check(o))
        return 0;
    *out = PyLong_AsUnsignedLongLong(o);
    if (*out == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* The folder part of `path` as a new str, and a pointer to the name's UTF-8; NULL (no error set) when the
 * path has no usable UTF-8 (surrogate-escaped bytes), holds a NUL (the system call would see a shorter
 * name) or has no separator. */
static PyObject *split(PyObject *path, const char **name) {
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(path, &n);
    if (utf8 == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (memchr(utf8, '\0', (size_t)n) != NULL)
        return NULL;
    const char *slash = memrchr(utf8, '/', (size_t)n);
    if (slash == NULL || slash[1] == '\0')
        return NULL;
    *name = slash + 1;
    Py_ssize_t cut = PyUnicode_FindChar(path, '/', 0, PyUnicode_GET_LENGTH(path), -1);
    if (cut < 0) {
        PyErr_Clear();
        return NULL;
    }
    if (cut == 0)
        return PyUnicode_FromString("/");
    return PyUnicode_Substring(path, 0, cut);
}

/* Reads one step into `e`: 0 when it is a lean move with both handles open, 1 when a handle is missing,
 * 2 when it is not a lean move, -1 on a Python error. */
static int prepare(PyObject *step, PyObject *sources, PyObject *targets, Entry *e) {
    int rc = 2;
    PyObject *action = NULL, *fp = NULL;
    e->src = e->dst = e->sdir = e->ddir = NULL;
    if (!(action = PyObject_GetAttr(step, s_action)))
        goto error;
    if (!PyUnicode_Check(action) || PyUnicode_Compare(action, s_move) != 0) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    if (!(e->src = PyObject_GetAttr(step, s_src)) || !(e->dst = PyObject_GetAttr(step, s_dst)) ||
        !(fp = PyObject_GetAttr(step, s_fp)))
        goto error;
    if (!PyUnicode_Check(e->src) || !PyUnicode_Check(e->dst) || !PyTuple_Check(fp) || PyTuple_GET_SIZE(fp) != 4)
        goto done;
    if (!as_signed(PyTuple_GET_ITEM(fp, 0), &e->size) || !as_signed(PyTuple_GET_ITEM(fp, 1), &e->mtime_ns) ||
        !as_unsigned(PyTuple_GET_ITEM(fp, 2), &e->dev) || !as_unsigned(PyTuple_GET_ITEM(fp, 3), &e->ino))
        goto done;
    if (!(e->sdir = split(e->src, &e->sname)) || !(e->ddir = split(e->dst, &e->dname))) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    PyObject *sh = PyDict_GetItemWithError(sources, e->sdir);
    PyObject *dh = sh ? PyDict_GetItemWithError(targets, e->ddir) : NULL;
    if (dh == NULL) {
        if (PyErr_Occurred())
            goto error;
        rc = 1;
        goto done;
    }
    if (!PyTuple_Check(sh) || !PyTuple_Check(dh) || PyTuple_GET_SIZE(sh) != 2 || PyTuple_GET_SIZE(dh) != 2)
        goto done;
    long long sfd, dfd;
    if (!as_signed(PyTuple_GET_ITEM(sh, 0), &sfd) || !as_signed(PyTuple_GET_ITEM(dh, 0), &dfd) ||
        !as_unsigned(PyTuple_GET_ITEM(dh, 1), &e->ddev) || sfd < 0 || dfd < 0 || sfd > INT_MAX || dfd > INT_MAX)
        goto done;
    e->sfd = (int)sfd;
    e->dfd = (int)dfd;
    rc = 0;
    goto out;
error:
    rc = -1;
done:
    release(e);
out:
    Py_XDECREF(action);
    Py_XDECREF(fp);
    return rc;
}

static PyObject *move_run(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *steps, *sources, *targets, *touched;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "O!nnO!O!O!", &PyList_Type, &steps, &start, &stop, &PyDict_Type, &sources,
                          &PyDict_Type, &targets, &PySet_Type, &touched))
        return NULL;
    if (start < 0 || stop > PyList_GET_SIZE(steps) || start > stop) {
        PyErr_SetString(PyExc_IndexError, "move_run: start/stop out of range");
        return NULL;
    }
    Entry entries[CHUNK];
    Py_ssize_t moved = 0;
    int why = 0;
    while (start + moved < stop && why == 0) {
        /* Read a chunk under the lock; each entry holds its strs, so the names' UTF-8 outlives the chunk. */
        Py_ssize_t n = 0, base = start + moved;
        int stop_why = 0;
        while (n < CHUNK && base + n < stop) {
            int rc = prepare(PyList_GET_ITEM(steps, base + n), sources, targets, &entries[n]);
            if (rc < 0) {
                for (Py_ssize_t i = 0; i < n; i++)
                    release(&entries[i]);
                if (moved == 0)
                    return NULL;
                /* Moves of earlier chunks must be reported: the general path meets this item's error again. */
                PyErr_Clear();
                return Py_BuildValue("ni", moved, 2);
            }
            if (rc > 0) {
                stop_why = rc;
                break;
            }
            n++;
        }
        /* Check and rename without the lock, stopping at the first item that does not go as planned. */
        Py_ssize_t done = 0;
        Py_BEGIN_ALLOW_THREADS
        for (; done < n; done++) {
            Entry *e = &entries[done];
            struct stat st;
            if (fstatat(e->sfd, e->sname, &st, AT_SYMLINK_NOFOLLOW) != 0)
                break;
            long long mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            if ((unsigned long long)st.st_ino != e->ino || (unsigned long long)st.st_dev != e->dev ||
                (long long)st.st_size != e->size || mtime_ns != e->mtime_ns ||
                (unsigned long long)st.st_dev != e->ddev)
                break;
            if (syscall(SYS_renameat2, e->sfd, e->sname, e->dfd, e->dname, RENAME_NOREPLACE) != 0)
                break;
        }
        Py_END_ALLOW_THREADS
        int failed = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i < done && !failed) {
                if (PySet_Add(touched, entries[i].sdir) < 0 || PySet_Add(touched, entries[i].ddir) < 0)
                    failed = 1;
            }
            release(&entries[i]);
        }
        if (failed) /* out of memory: this call's moves stay pending, and recovery finds them done on disk */
            return NULL;
        moved += done;
        if (done < n)
            why = 2;
        else
            why = stop_why;
    }
    return Py_BuildValue("ni", moved, why);
}

/* Where an ASCII path's folder ends (ledger.folder_len): the last '/', when it is not the first character
 * and not doubled; None otherwise. */
static PyObject *folder_len(PyObject *path) {
    const char *data = (const char *)PyUnicode_1BYTE_DATA(path);
    Py_ssize_t n = PyUnicode_GET_LENGTH(path);
    const char *slash = n ? memrchr(data, '/', (size_t)n) : NULL;
    if (slash == NULL || slash == data || slash[-1] == '/')
        Py_RETURN_NONE;
    return PyLong_FromSsize_t(slash - data);
}

static int is_ascii_str(PyObject *o) {
    if (!PyUnicode_Check(o))
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(o) < 0) {
        PyErr_Clear();
        return 0;
    }
#endif
    return PyUnicode_IS_ASCII(o);
}

/* The intent row of one step, a new reference; Py_None (borrowed, not a row) when the step is not plain;
 * NULL on a Python error. */
static PyObject *intent_row(PyObject *step, PyObject *dest_dev) {
    PyObject *row = Py_None, *action = NULL, *src = NULL, *dst = NULL, *fp = NULL, *undo_of = NULL;
    PyObject *seq = NULL, *file_id = NULL, *a = NULL, *b = NULL;
    if (!(action = PyObject_GetAttr(step, s_action)))
        goto error;
    if (action != s_move && (!PyUnicode_Check(action) || PyUnicode_Compare(action, s_move) != 0)) {
        if (PyErr_Occurred())
            goto error;
        goto out;
    }
    if (!(src = PyObject_GetAttr(step, s_src)) || !(dst = PyObject_GetAttr(step, s_dst)) ||
        !(fp = PyObject_GetAttr(step, s_fp)) || !(undo_of = PyObject_GetAttr(step, s_undo_of)))
        goto error;
    if (undo_of != Py_None || !PyTuple_Check(fp) || PyTuple_GET_SIZE(fp) != 4 || !is_ascii_str(src) ||
        !is_ascii_str(dst))
        goto out;
    if (dest_dev != Py_None) {
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(fp, 2), dest_dev, Py_EQ);
        if (same < 0)
            goto error;
        if (!same)
            goto out;
    }
    if (!(seq = PyObject_GetAttr(step, s_seq)) || !(file_id = PyObject_GetAttr(step, s_file_id)) ||
        !(a = folder_len(src)) || !(b = folder_len(dst)))
        goto error;
    row = PyTuple_Pack(10, seq, file_id, src, dst, PyTuple_GET_ITEM(fp, 0), PyTuple_GET_ITEM(fp, 1),
                       PyTuple_GET_ITEM(fp, 2), PyTuple_GET_ITEM(fp, 3), a, b);
    goto out;
error:
    row = NULL;
out:
    Py_XDECREF(action);
    Py_XDECREF(src);
    Py_XDECREF(dst);
    Py_XDECREF(fp);
    Py_XDECREF(undo_of);
    Py_XDECREF(seq);
    Py_XDECREF(file_id);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return row;
}

static PyObject *intent_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *steps, *dest_dev;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!nO", &PyList_Type, &steps, &start, &dest_dev))
        return NULL;
    if (start < 0 || start > PyList_GET_SIZE(steps)) {
        PyErr_SetString(PyExc_IndexError, "intent_rows: start out of range");
        return NULL;
    }
    PyObject *rows = PyList_New(0);
    if (rows == NULL)
        return NULL;
    Py_ssize_t i = start;
    for (; i < PyList_GET_SIZE(steps); i++) {
        PyObject *row = intent_row(PyList_GET_ITEM(steps, i), dest_dev);
        if (row == NULL) {
            Py_DECREF(rows);
            return NULL;
        }
        if (row == Py_None)
            break;
        int rc = PyList_Append(rows, row);
        Py_DECREF(row);
        if (rc < 0) {
            Py_DECREF(rows);
            return NULL;
        }
    }
    return Py_BuildValue("Nn", rows, i);
}

static PyMethodDef methods[] = {
    {"move_run", move_run, METH_VARARGS, "Check and rename a run of lean moves; see the module source."},
    {"intent_rows", intent_rows, METH_VARARGS, "The intent rows of a run of plain items; see the module source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lean", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lean(void) {
    if (!(s_action = PyUnicode_InternFromString("action")) || !(s_src = PyUnicode_InternFromString("src")) ||
        !(s_dst = PyUnicode_InternFromString("dst")) || !(s_fp = PyUnicode_InternFromString("fp")) ||
        !(s_move = PyUnicode_InternFromString("move")) || !(s_seq = PyUnicode_InternFromString("seq")) ||
        !(s_file_id = PyUnicode_InternFromString("file_id")) || !(s_undo_of = PyUnicode_InternFromString("undo_of")))
        return NULL;
    return PyModule_Create(&module);
}

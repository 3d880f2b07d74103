/* sipattach.c: patch a PyQt6 class only when its attributes come to life.
 *
 * sip fills a wrapped class's dictionary lazily, on the first attribute
 * access, creating every method descriptor and every nested enum (a Python
 * enum class each) at once.  For QThread that costs 0.4-0.8 ms - Priority
 * and QualityOfService are enums - and an app that never touches QThread
 * never pays it.  Patching QThread.start eagerly at Qt's import would make
 * every app pay.  So pyqtguard registers a sip "attribute getter" for the
 * class instead: sip calls it, last, when it completes the class's
 * dictionary, "to allow any existing attributes to be replaced" (sip_core.c,
 * add_lazy_attrs).  The getter hands the dictionary to a Python callable,
 * which puts its wrapper in.
 *
 * The sip C API is reached through the PyQt6.sip._C_API capsule.  Only a
 * prefix of its table is used; sip keeps the table's layout within an ABI
 * major version (entries are only appended), and PyQt6 uses ABI 13.  Any
 * other major version, or any failure, returns False: the caller then
 * patches the class directly.
 */
#include "pyqtguard_native.h"

#define SIP_ABI_MAJOR_SUPPORTED 13

typedef int (*sip_attr_getter_func)(const void *td, PyObject *dict);

/* The first entries of sip.h's sipAPIDef (ABI 13), in order.  Only the last
 * three are called; the others keep their places. */
typedef struct {
    void *api_export_module;
    void *api_simplewrapper_type;
    void *api_wrapper_type;
    void *api_wrappertype_type;
    void *api_voidptr_type;
    void *api_bad_catcher_result;
    void *api_bad_length_for_slice;
    void *api_build_result;
    void *api_call_method;
    void *api_call_procedure_method;
    void *api_convert_from_sequence_index;
    void *api_can_convert_to_type;
    void *api_convert_to_type;
    void *api_convert_to_type_us;
    void *api_force_convert_to_type;
    void *api_force_convert_to_type_us;
    void *api_release_type;
    void *api_release_type_us;
    void *api_convert_from_type;
    void *api_convert_from_new_type;
    void *api_convert_from_enum;
    void *api_get_state;
    void *api_free;
    void *api_get_pyobject;
    void *api_malloc;
    void *api_parse_result;
    void *api_trace;
    void *api_transfer_back;
    void *api_transfer_to;
    void *api_long_as_unsigned_long;
    void *api_convert_from_void_ptr;
    void *api_convert_from_const_void_ptr;
    void *api_convert_from_void_ptr_and_size;
    void *api_convert_from_const_void_ptr_and_size;
    void *api_convert_to_void_ptr;
    void *api_export_symbol;
    void *api_import_symbol;
    void *api_find_type;
    void *api_register_py_type;
    const void *(*api_type_from_py_type_object)(PyTypeObject *py_type);
    void *api_type_scope;
    void *api_resolve_typedef;
    int (*api_register_attribute_getter)(const void *td,
                                         sip_attr_getter_func getter);
} sip_api_prefix;

/* The callables, by class; read and written with the GIL held (sip calls
 * getters with it).  sip cannot unregister a getter, so each class gets one
 * getter for the process's life (`with_getter`); forgetting a class only
 * drops its callable. */
static PyObject *on_complete = NULL;     /* dict: class -> callable(dict) */
static PyObject *with_getter = NULL;     /* set: classes with a getter */
static const sip_api_prefix *api = NULL; /* set once a getter is registered */

/* sip completes the dictionary of the class `td` describes: call that
 * class's callable, if it still has one. */
static int
call_on_complete(const void *td, PyObject *dict)
{
    if (on_complete == NULL) {
        return 0;
    }
    PyObject *items = PyDict_Items(on_complete);    /* a callable may forget */
    if (items == NULL) {
        PyErr_Clear();
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *cls = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *callable = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (api->api_type_from_py_type_object((PyTypeObject *)cls) != td) {
            continue;
        }
        PyObject *result = PyObject_CallOneArg(callable, dict);
        if (result == NULL) {
            /* Never fail the app's attribute access for pyqtguard. */
            PyErr_WriteUnraisable(callable);
            continue;
        }
        Py_DECREF(result);
    }
    Py_DECREF(items);
    return 0;
}

static const sip_api_prefix *
sip_api(void)
{
    PyObject *sip = PyImport_ImportModule("PyQt6.sip");
    if (sip == NULL) {
        return NULL;
    }
    /* SIP_ABI_VERSION: 0xMMmmpp (SIP_VERSION is the sip tool's version). */
    PyObject *version = PyObject_GetAttrString(sip, "SIP_ABI_VERSION");
    Py_DECREF(sip);
    if (version == NULL) {
        return NULL;
    }
    long hex = PyLong_AsLong(version);
    Py_DECREF(version);
    if (hex < 0 || (hex >> 16) != SIP_ABI_MAJOR_SUPPORTED) {
        PyErr_Clear();
        return NULL;
    }
    return (const sip_api_prefix *)PyCapsule_Import("PyQt6.sip._C_API", 0);
}

/* when_class_completes(cls, callable, getter=True) -> bool: call
 * callable(cls's dict) when sip completes it.  False: not possible (not a
 * sip class, another sip ABI); the caller patches directly.  getter=False:
 * register no sip getter for cls, because one registered for a base class
 * of cls already makes sip call back when cls completes (sip calls a
 * getter for its class and every subclass): one getter for a family, not
 * one per class. */
static PyObject *
when_class_completes_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *cls, *callable;
    int getter = 1;
    if (!PyArg_ParseTuple(args, "O!O|p:when_class_completes", &PyType_Type, &cls,
                          &callable, &getter)) {
        return NULL;
    }
    if (!PyCallable_Check(callable)) {
        PyErr_SetString(PyExc_TypeError, "callable must be callable");
        return NULL;
    }
    if (!getter && api == NULL) {
        Py_RETURN_FALSE;                /* no getter of any base: nobody calls */
    }
    /* The API table lives as long as the process (PyQt6.sip is never
     * unloaded): looked up once, not per class. */
    const sip_api_prefix *sip = api != NULL ? api : sip_api();
    if (sip == NULL) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    const void *td = sip->api_type_from_py_type_object((PyTypeObject *)cls);
    if (td == NULL) {
        Py_RETURN_FALSE;
    }
    if ((on_complete == NULL && (on_complete = PyDict_New()) == NULL)
        || (with_getter == NULL && (with_getter = PySet_New(NULL)) == NULL)) {
        return NULL;
    }
    int has_getter = PySet_Contains(with_getter, cls);
    if (has_getter < 0) {
        return NULL;
    }
    if (!has_getter && getter) {
        api = sip;
        if (sip->api_register_attribute_getter(td, call_on_complete) < 0) {
            PyErr_Clear();
            Py_RETURN_FALSE;
        }
        if (PySet_Add(with_getter, cls) < 0) {
            return NULL;
        }
    }
    if (PyDict_SetItem(on_complete, cls, callable) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

/* forget_class_completion(cls): the callable is no longer wanted. */
static PyObject *
forget_class_completion_py(PyObject *Py_UNUSED(self), PyObject *cls)
{
    if (on_complete != NULL && PyDict_Contains(on_complete, cls) == 1) {
        if (PyDict_DelItem(on_complete, cls) < 0) {
            return NULL;
        }
    }
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* forget_class_completions(): at exit, no callable is wanted any more.
 * Holding them would keep their modules alive through the interpreter's
 * teardown, to be cleared one by one instead of freed with the rest. */
static PyObject *
forget_class_completions_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    if (on_complete != NULL) {
        PyDict_Clear(on_complete);
    }
    Py_RETURN_NONE;
}

/* type_dict(cls): the class's own dictionary, read-only, without the
 * attribute access that would make sip complete it. */
static PyObject *
type_dict_py(PyObject *Py_UNUSED(self), PyObject *cls)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "cls must be a class");
        return NULL;
    }
    return PyDictProxy_New(((PyTypeObject *)cls)->tp_dict);
}

static PyMethodDef sipattach_methods[] = {
    {"when_class_completes", when_class_completes_py, METH_VARARGS,
     PyDoc_STR("when_class_completes($module, cls, callable, getter=True, /)\n--\n\n"
               "Call callable(dict) when sip completes the PyQt6 class's "
               "dictionary; False if that cannot be arranged.  getter=False: "
               "a getter registered for a base class calls back.")},
    {"forget_class_completion", forget_class_completion_py, METH_O,
     PyDoc_STR("forget_class_completion($module, cls, /)\n--\n\n"
               "Drop the callable registered for cls.")},
    {"forget_class_completions", forget_class_completions_py, METH_NOARGS,
     PyDoc_STR("forget_class_completions($module, /)\n--\n\n"
               "Drop every registered callable (at exit).")},
    {"type_dict", type_dict_py, METH_O,
     PyDoc_STR("type_dict($module, cls, /)\n--\n\nThe class's own "
               "dictionary (read-only), as it is now.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_sipattach_init(PyObject *module)
{
    return PyModule_AddFunctions(module, sipattach_methods);
}

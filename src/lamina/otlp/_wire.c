/*
 * The OTLP trace export read straight from its protobuf wire format into the columns
 * of a batch of spans (see lamina/otlp/wire.py, the only caller, which makes them a
 * lamina.spans.batch.ColumnBatch).
 *
 * This is the fast path of lamina/otlp/decode.py, which remains the definition: every
 * value this module produces is the value decode.py's decode_request() produces for
 * the same request, and tests/otlp/test_wire.py checks that on many generated
 * requests. Anything out of the ordinary is not handled here:
 *
 *   - a request this module does not read exactly as upb would (malformed wire data,
 *     invalid UTF-8, a singular message field sent twice, an AnyValue with two values,
 *     nesting 32 deep, a known field with an unexpected wire type, groups) makes
 *     decode() return None, and the caller decodes the request with upb and
 *     decode.py, which also words the error;
 *   - a span whose attributes need more than looking fields up (chat messages,
 *     metadata, a string token count, a JSON list of tags, a payload that is not a
 *     string) is normalised by the Python conventions (attributes.scan/normalise),
 *     from the attribute dict built here, which is the one decode.key_values() builds.
 *
 * Not a general protobuf decoder: it knows only the messages of a trace export.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- what wire.py's configure() call hands over ------------------------------------------- */

static PyObject *roles;        /* attributes._ROLES: name -> role tuple (a cache) */
static PyObject *role_fn;      /* attributes.role: works out and caches a role */
static PyObject *field_index;  /* field name -> one of the F_* numbers below */
static PyObject *scan_fn;      /* attributes.scan */
static PyObject *normalise_fn; /* attributes.normalise */
static PyObject *dumps_fn;     /* orjson.dumps */
static PyObject *dumps_kwargs; /* {"default": str} */

static PyObject *s_unset, *s_ok, *s_error, *s_default, *s_llm, *s_empty_list_json;
static PyObject *s_name, *s_time_ns, *s_attributes, *s_service_name, *s_upper, *s_empty;
static PyObject *s_norm[13];

/* The fields of the conventions table, in the order wire.FIELDS gives their names. */
enum {
    F_SESSION, F_USER, F_TAGS, F_SPAN_TYPE, F_INPUT, F_INPUT_LATE, F_OUTPUT, F_OUTPUT_LATE,
    F_MODEL, F_PROVIDER, F_INPUT_TOKENS, F_OUTPUT_TOKENS, F_COST, F_INPUT_COST,
    F_OUTPUT_COST, F_COST_LATE, F_METADATA_JSON, N_FIELDS
};
static int span_only(int f) {
    return f == F_INPUT || f == F_INPUT_LATE || f == F_OUTPUT || f == F_OUTPUT_LATE;
}
enum { R_KEEP = 0, R_FIELD = 1, R_MESSAGE = 2, R_METADATA = 3 };

/* The columns decode() fills, and their names (the module's COLUMNS), which must be
 * lamina.spans.batch.SPAN_FIELDS: wire.py refuses to load a module built otherwise,
 * and tests/spans/test_schema_lists.py checks them. */
enum {
    C_PROJECT, C_TRACE, C_SPAN, C_PARENT, C_NAME, C_TYPE, C_START, C_END, C_STATUS,
    C_STATUS_MESSAGE, C_SESSION, C_USER, C_INPUT, C_OUTPUT, C_MODEL, C_PROVIDER,
    C_INPUT_TOKENS, C_OUTPUT_TOKENS, C_COST, C_TAGS, C_METADATA, C_ATTRIBUTES, C_EVENTS,
    C_RESOURCE, C_SERVICE, N_COLUMNS
};
static const char *const column_names[N_COLUMNS] = {
    [C_PROJECT] = "project_id", [C_TRACE] = "trace_id", [C_SPAN] = "span_id",
    [C_PARENT] = "parent_span_id", [C_NAME] = "name", [C_TYPE] = "span_type",
    [C_START] = "start_ns", [C_END] = "end_ns", [C_STATUS] = "status",
    [C_STATUS_MESSAGE] = "status_message", [C_SESSION] = "session_id", [C_USER] = "user_id",
    [C_INPUT] = "input", [C_OUTPUT] = "output", [C_MODEL] = "model", [C_PROVIDER] = "provider",
    [C_INPUT_TOKENS] = "input_tokens", [C_OUTPUT_TOKENS] = "output_tokens", [C_COST] = "cost",
    [C_TAGS] = "tags", [C_METADATA] = "metadata", [C_ATTRIBUTES] = "attributes",
    [C_EVENTS] = "events", [C_RESOURCE] = "resource", [C_SERVICE] = "service_name",
};

#define MAX_DEPTH 32 /* decode.py's _MAX_VALUE_DEPTH: deeper values go to the slow path */
#define MAX_COUNT 1e12 /* attributes.MAX_COUNT */

/* ---- reading the wire format ---------------------------------------------------- */

/* -1 with no Python error set: "not read here", the caller falls back to upb.
 * -1 with a Python error set: a real error (out of memory, the price function). */
#define BAIL (-1)

typedef struct {
    const uint8_t *p, *end;
} Reader;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int read_varint(Reader *r, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return BAIL;
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return BAIL; /* longer than ten bytes */
}

static int read_tag(Reader *r, uint32_t *field, int *wire_type) {
    uint64_t tag;
    if (read_varint(r, &tag) < 0 || tag > UINT32_MAX) return BAIL;
    *field = (uint32_t)(tag >> 3);
    *wire_type = (int)(tag & 7);
    return *field == 0 ? BAIL : 0;
}

static int read_len(Reader *r, Reader *inner) {
    uint64_t n;
    if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p)) return BAIL;
    inner->p = r->p;
    inner->end = r->p + n;
    r->p += n;
    return 0;
}

static int read_fixed64(Reader *r, uint64_t *out) {
    if (r->end - r->p < 8) return BAIL;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | r->p[i];
    r->p += 8;
    *out = v;
    return 0;
}

/* An unknown field, skipped as upb skips it (groups are left to upb). */
static int skip(Reader *r, int wire_type) {
    uint64_t ignored;
    Reader inner;
    switch (wire_type) {
    case WT_VARINT: return read_varint(r, &ignored);
    case WT_I64: return read_fixed64(r, &ignored);
    case WT_LEN: return read_len(r, &inner);
    case WT_I32:
        if (r->end - r->p < 4) return BAIL;
        r->p += 4;
        return 0;
    default: return BAIL;
    }
}

/* A string field as str; invalid UTF-8 is left to upb (which refuses the request). */
static PyObject *text(Reader *r) {
    if (r->p == r->end) {
        Py_INCREF(s_empty);
        return s_empty;
    }
    PyObject *s = PyUnicode_DecodeUTF8((const char *)r->p, r->end - r->p, NULL);
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
    return s;
}

/* A string field not kept, still checked as upb checks it. */
static int check_text(Reader *r) {
    PyObject *s = text(r);
    if (s == NULL) return BAIL;
    Py_DECREF(s);
    return 0;
}

#define EXPECT(wt, want) \
    do { if ((wt) != (want)) goto bail; } while (0)

/* ---- AnyValue and KeyValue: decode.any_value() and decode.key_values() ---------- */

static PyObject *any_value(Reader *r, int depth);

static PyObject *base64(const uint8_t *p, Py_ssize_t n) {
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Py_ssize_t size = (n + 2) / 3 * 4;
    PyObject *s = PyUnicode_New(size, 127);
    if (s == NULL) return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(s);
    Py_ssize_t i = 0, o = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = digits[v >> 18];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = digits[(v >> 6) & 63];
        out[o++] = digits[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = digits[v >> 18];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return s;
}

/* One KeyValue into dict (a later key replaces an earlier one's value, as in a dict). */
static int key_value(Reader *r, PyObject *dict, int depth) {
    PyObject *key = NULL, *value = NULL;
    int seen_value = 0;
    while (r->p < r->end) {
        uint32_t field;
        int wt;
        if (read_tag(r, &field, &wt) < 0) goto bail;
        Reader inner;
        if (field == 1) {
            EXPECT(wt, WT_LEN);
            if (read_len(r, &inner) < 0) goto bail;
            Py_XDECREF(key);
            if ((key = text(&inner)) == NULL) goto bail;
        } else if (field == 2) {
            EXPECT(wt, WT_LEN);
            if (seen_value++ || read_len(r, &inner) < 0) goto bail;
            if ((value = any_value(&inner, depth)) == NULL) goto bail;
        } else if (skip(r, wt) < 0) {
            goto bail;
        }
    }
    if (key == NULL) {
        Py_INCREF(s_empty);
        key = s_empty;
    }
    if (value == NULL) {
        Py_INCREF(Py_None);
        value = Py_None;
    }
    int failed = PyDict_SetItem(dict, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return failed ? BAIL : 0;
bail:
    Py_XDECREF(key);
    Py_XDECREF(value);
    return BAIL;
}

static PyObject *any_value(Reader *r, int depth) {
    uint32_t field;
    int wt, kind = 0, count = 0;
    uint64_t number = 0;
    Reader inner = {NULL, NULL};
    while (r->p < r->end) {
        if (read_tag(r, &field, &wt) < 0) return NULL;
        switch (field) {
        case 1: case 5: case 6: case 7:
            if (wt != WT_LEN || read_len(r, &inner) < 0) return NULL;
            break;
        case 2: case 3: case 8:
            if (wt != WT_VARINT || read_varint(r, &number) < 0) return NULL;
            break;
        case 4:
            if (wt != WT_I64 || read_fixed64(r, &number) < 0) return NULL;
            break;
        default:
            if (skip(r, wt) < 0) return NULL;
            continue;
        }
        kind = (int)field;
        count++;
    }
    if (count > 1) return NULL; /* a oneof set twice: upb's merging rules, not ours */
    PyObject *result;
    switch (kind) {
    case 1: return text(&inner);
    case 2: result = number ? Py_True : Py_False; Py_INCREF(result); return result;
    case 3: return PyLong_FromLongLong((long long)(int64_t)number);
    case 4: {
        double d;
        memcpy(&d, &number, sizeof d);
        return PyFloat_FromDouble(d);
    }
    case 5: case 6: {
        if (depth + 1 >= MAX_DEPTH) return NULL; /* decode.py marks it; leave that to it */
        int is_list = kind == 5;
        result = is_list ? PyList_New(0) : PyDict_New();
        if (result == NULL) return NULL;
        while (inner.p < inner.end) {
            Reader item;
            if (read_tag(&inner, &field, &wt) < 0) goto bail_container;
            if (field != 1) {
                if (skip(&inner, wt) < 0) goto bail_container;
                continue;
            }
            if (wt != WT_LEN || read_len(&inner, &item) < 0) goto bail_container;
            if (is_list) {
                PyObject *value = any_value(&item, depth + 1);
                if (value == NULL) goto bail_container;
                int failed = PyList_Append(result, value);
                Py_DECREF(value);
                if (failed) goto bail_container;
            } else if (key_value(&item, result, depth + 1) < 0) {
                goto bail_container;
            }
        }
        return result;
    bail_container:
        Py_DECREF(result);
        return NULL;
    }
    case 7: return base64(inner.p, inner.end - inner.p);
    default: Py_INCREF(Py_None); return Py_None; /* no value, or a string table index */
    }
}

/* Repeated KeyValue field `want` of a message, as one dict. */
static PyObject *attributes_of(Reader message, uint32_t want) {
    PyObject *dict = PyDict_New();
    if (dict == NULL) return NULL;
    while (message.p < message.end) {
        uint32_t field;
        int wt;
        Reader inner;
        if (read_tag(&message, &field, &wt) < 0) goto bail;
        if (field == want && wt == WT_LEN) {
            if (read_len(&message, &inner) < 0 || key_value(&inner, dict, 0) < 0) goto bail;
        } else if (skip(&message, wt) < 0) {
            goto bail;
        }
    }
    return dict;
bail:
    Py_DECREF(dict);
    return NULL;
}

/* ---- the conventions' fast path: attributes.scan() and normalise() -------------- */

typedef struct {
    PyObject *values[N_FIELDS]; /* borrowed from the attribute dict */
    PyObject *keys[N_FIELDS];   /* the attribute each value came from */
    long ranks[N_FIELDS];
    /* gen_ai.prompt.N.part and gen_ai.completion.N.part: {N: {part: value}} (owned) */
    PyObject *messages[2];
    int llm_marker, slow, payloads;
} Scan;

static void scan_clear(Scan *found) {
    Py_CLEAR(found->messages[0]);
    Py_CLEAR(found->messages[1]);
}

/* messages[index][part] = value, for a (_MESSAGE, prompt, index, part) role */
static int add_message(Scan *found, PyObject *role, PyObject *value) {
    int which = PyTuple_GET_ITEM(role, 1) == Py_True ? 0 : 1;
    PyObject *index = PyTuple_GET_ITEM(role, 2), *part = PyTuple_GET_ITEM(role, 3);
    if (found->messages[which] == NULL && (found->messages[which] = PyDict_New()) == NULL)
        return BAIL;
    PyObject *message = PyDict_GetItemWithError(found->messages[which], index);
    if (message == NULL) {
        if (PyErr_Occurred() || (message = PyDict_New()) == NULL) return BAIL;
        int failed = PyDict_SetItem(found->messages[which], index, message);
        Py_DECREF(message); /* the dict holds it */
        if (failed) return BAIL;
    }
    return PyDict_SetItem(message, part, value) < 0 ? BAIL : 0;
}

/* attributes._messages: the messages in index order, as JSON text */
static PyObject *dumps_text(PyObject *value);
static PyObject *messages_text(PyObject *messages) {
    PyObject *indexes = PyDict_Keys(messages), *list = NULL, *result = NULL;
    if (indexes == NULL || PyList_Sort(indexes) < 0) goto done;
    Py_ssize_t n = PyList_GET_SIZE(indexes);
    if ((list = PyList_New(n)) == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *message = PyDict_GetItemWithError(messages, PyList_GET_ITEM(indexes, i));
        if (message == NULL) goto done;
        Py_INCREF(message);
        PyList_SET_ITEM(list, i, message);
    }
    result = dumps_text(list);
done:
    Py_XDECREF(indexes);
    Py_XDECREF(list);
    return result;
}

/* The role of an attribute name (a new reference). */
static PyObject *role_of(PyObject *key) {
    PyObject *role = PyDict_GetItemWithError(roles, key);
    if (role != NULL) {
        Py_INCREF(role);
        return role;
    }
    if (PyErr_Occurred()) return NULL;
    return PyObject_CallOneArg(role_fn, key);
}

/* With `messages` 0 (a resource's scan), chat messages are not gathered: only a span's
 * are used. On failure nothing is left to clear. */
static int scan(PyObject *attrs, Scan *found, int messages) {
    memset(found, 0, sizeof *found);
    Py_ssize_t at = 0;
    PyObject *key, *value;
    while (PyDict_Next(attrs, &at, &key, &value)) {
        PyObject *role = role_of(key);
        if (role == NULL) goto bail;
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(role, 0));
        if (kind == R_METADATA) {
            found->slow = 1;
        } else if (kind == R_MESSAGE) {
            found->payloads = 1;
            if (messages && add_message(found, role, value) < 0) {
                Py_DECREF(role);
                goto bail;
            }
        } else if (kind == R_FIELD) {
            PyObject *index = PyDict_GetItemWithError(field_index, PyTuple_GET_ITEM(role, 1));
            if (index == NULL) {
                Py_DECREF(role);
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_RuntimeError, "lamina: a field the decoder does not know");
                goto bail;
            }
            int f = (int)PyLong_AsLong(index);
            long rank = PyLong_AsLong(PyTuple_GET_ITEM(role, 2));
            if (value != Py_None) {
                int empty = PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) == 0;
                if (!empty && (found->values[f] == NULL || rank < found->ranks[f])) {
                    found->values[f] = value;
                    found->keys[f] = key;
                    found->ranks[f] = rank;
                }
                if (PyTuple_GET_ITEM(role, 4) == Py_True) found->llm_marker = 1;
            }
            if (PyTuple_GET_ITEM(role, 3) == Py_True) found->payloads = 1;
            if (f == F_METADATA_JSON && value != Py_None) found->slow = 1;
        }
        Py_DECREF(role);
    }
    return 0;
bail:
    scan_clear(found);
    return BAIL;
}

/* attributes.as_int / as_float for the values they read without parsing text; a
 * string makes the span slow (-2). 0: *out is the number, or NULL for None. */
static int as_int(PyObject *value, PyObject **out) {
    *out = NULL;
    if (value == NULL || value == Py_None || PyBool_Check(value)) return 0;
    if (PyUnicode_Check(value)) return -2;
    if (PyLong_Check(value)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (n == -1 && PyErr_Occurred()) return BAIL;
        if (!overflow && n >= 0 && n <= (long long)MAX_COUNT) *out = PyLong_FromLongLong(n);
        return (*out == NULL && PyErr_Occurred()) ? BAIL : 0;
    }
    if (PyFloat_Check(value)) {
        double d = trunc(PyFloat_AS_DOUBLE(value));
        if (isfinite(d) && d >= 0 && d <= MAX_COUNT) {
            if ((*out = PyLong_FromDouble(d)) == NULL) return BAIL;
        }
        return 0;
    }
    return 0; /* a list or a dict: not a count */
}

/* 0: *out set (NAN for None); -2: slow. */
static int as_float(PyObject *value, double *out) {
    *out = NAN;
    if (value == NULL || value == Py_None || PyBool_Check(value)) return 0;
    if (PyUnicode_Check(value)) return -2;
    double d;
    if (PyLong_Check(value)) {
        d = PyLong_AsDouble(value);
        if (d == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return BAIL;
            PyErr_Clear();
            return 0;
        }
    } else if (PyFloat_Check(value)) {
        d = PyFloat_AS_DOUBLE(value);
    } else {
        return 0;
    }
    if (isfinite(d) && fabs(d) <= MAX_COUNT) *out = d;
    return 0;
}

/* attributes._cost: -2 slow, else 0 with *out (NULL for None). */
static int cost_of(PyObject **values, PyObject **out) {
    *out = NULL;
    if (!values[F_COST] && !values[F_INPUT_COST] && !values[F_OUTPUT_COST] && !values[F_COST_LATE])
        return 0;
    double total, in, outp;
    int rc;
    if ((rc = as_float(values[F_COST], &total)) != 0) return rc;
    if (isnan(total)) {
        if ((rc = as_float(values[F_INPUT_COST], &in)) != 0) return rc;
        if ((rc = as_float(values[F_OUTPUT_COST], &outp)) != 0) return rc;
        if (!isnan(in) || !isnan(outp)) {
            total = (isnan(in) || in == 0 ? 0.0 : in) + (isnan(outp) || outp == 0 ? 0.0 : outp);
        } else if ((rc = as_float(values[F_COST_LATE], &total)) != 0) {
            return rc;
        }
    }
    if (!isnan(total) && (*out = PyFloat_FromDouble(total)) == NULL) return BAIL;
    return 0;
}

/* attributes.as_tags for everything but a string that may hold a JSON list (-2). */
static int as_tags(PyObject *value, PyObject **out) {
    *out = NULL;
    if (value == NULL) {
        *out = PyTuple_New(0);
        return *out ? 0 : BAIL;
    }
    if (PyUnicode_Check(value)) {
        if (PyUnicode_FindChar(value, '[', 0, PyUnicode_GET_LENGTH(value), 1) != -1) return -2;
        *out = PyTuple_Pack(1, value); /* never empty: scan() keeps only non-empty values */
        return *out ? 0 : BAIL;
    }
    if (PyList_Check(value)) {
        PyObject *seen = PyDict_New();
        if (seen == NULL) return BAIL;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++) {
            PyObject *tag = PyList_GET_ITEM(value, i);
            if (tag == Py_None || (PyUnicode_Check(tag) && PyUnicode_GET_LENGTH(tag) == 0))
                continue;
            PyObject *name = PyObject_Str(tag);
            if (name == NULL || PyDict_SetItem(seen, name, Py_None) < 0) {
                Py_XDECREF(name);
                Py_DECREF(seen);
                return BAIL;
            }
            Py_DECREF(name);
        }
        PyObject *keys = PyDict_Keys(seen);
        Py_DECREF(seen);
        if (keys == NULL) return BAIL;
        *out = PyList_AsTuple(keys);
        Py_DECREF(keys);
        return *out ? 0 : BAIL;
    }
    PyObject *name = PyObject_Str(value);
    if (name == NULL) return BAIL;
    *out = PyTuple_Pack(1, name);
    Py_DECREF(name);
    return *out ? 0 : BAIL;
}

/* str(value), None for None (a new reference). */
static PyObject *str_or_none(PyObject *value) {
    if (value == NULL || value == Py_None) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return PyObject_Str(value);
}

/* ---- one resource, one span ------------------------------------------------------ */

typedef struct {
    PyObject *attrs;   /* its attribute dict */
    PyObject *json;    /* orjson.dumps(attrs, default=str).decode() */
    PyObject *service; /* str(service.name) or None */
    PyObject *py_scan; /* attributes.scan(attrs), made for the first slow span */
    Scan scan;
} Resource;

static PyObject *dumps_text(PyObject *value) {
    PyObject *args = PyTuple_Pack(1, value);
    if (args == NULL) return NULL;
    PyObject *raw = PyObject_Call(dumps_fn, args, dumps_kwargs);
    Py_DECREF(args);
    if (raw == NULL) return NULL;
    PyObject *s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), NULL);
    Py_DECREF(raw);
    return s;
}

typedef struct {
    PyObject *columns[N_COLUMNS];
    PyObject *errors;
    PyObject *project_id;
    PyObject *price;
} Output;

static int append(Output *out, int column, PyObject *value) { /* steals value */
    if (value == NULL) return BAIL;
    int failed = PyList_Append(out->columns[column], value);
    Py_DECREF(value);
    return failed ? BAIL : 0;
}

static PyObject *hex(const uint8_t *p, Py_ssize_t n) {
    static const char digits[] = "0123456789abcdef";
    PyObject *s = PyUnicode_New(2 * n, 127);
    if (s == NULL) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        o[2 * i] = digits[p[i] >> 4];
        o[2 * i + 1] = digits[p[i] & 15];
    }
    return s;
}

static int all_zero(const uint8_t *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* decode._invalid: why the span cannot be stored, or NULL. */
static const char *invalid(Reader trace, Reader span, Reader parent, uint64_t start, uint64_t end) {
    if (trace.end - trace.p != 16 || all_zero(trace.p, 16))
        return "trace_id must be 16 bytes (32 hex digits) and not all zero";
    if (span.end - span.p != 8 || all_zero(span.p, 8))
        return "span_id must be 8 bytes (16 hex digits) and not all zero";
    if (parent.end != parent.p && parent.end - parent.p != 8)
        return "parent_span_id must be empty or 8 bytes (16 hex digits)";
    if (start >= ((uint64_t)1 << 63) || end >= ((uint64_t)1 << 63))
        return "start and end times must be nanoseconds since 1970 before the year 2262";
    return NULL;
}

/* The normalised fields of a span, in attributes.Normalised order. */
typedef struct {
    PyObject *v[13]; /* session, user, tags, span_type, input, output, model, provider,
                        input_tokens, output_tokens, cost, metadata, kept */
} Fields;

static void fields_clear(Fields *f) {
    for (int i = 0; i < 13; i++) Py_CLEAR(f->v[i]);
}

/* The fast path; -2 when the span needs the Python conventions. */
static int normalise_fast(PyObject *attrs, Resource *resource, Fields *out) {
    Scan s;
    int rc;
    memset(out, 0, sizeof *out);
    if (scan(attrs, &s, 1) < 0) return BAIL;
    if (s.slow || resource->scan.slow) {
        rc = -2;
        goto done;
    }
    for (int f = 0; f < N_FIELDS; f++)
        if (!s.values[f] && !span_only(f)) s.values[f] = resource->scan.values[f];
    PyObject **v = s.values;
    /* input and output: attributes._payload. A payload that is not text is slow. */
    PyObject *input = v[F_INPUT], *input_key = s.keys[F_INPUT];
    PyObject *output = v[F_OUTPUT], *output_key = s.keys[F_OUTPUT];
    int prompt_used = !input && s.messages[0] && PyDict_GET_SIZE(s.messages[0]);
    int completion_used = !output && s.messages[1] && PyDict_GET_SIZE(s.messages[1]);
    if (!input && !prompt_used) input = v[F_INPUT_LATE], input_key = s.keys[F_INPUT_LATE];
    if (!output && !completion_used) output = v[F_OUTPUT_LATE], output_key = s.keys[F_OUTPUT_LATE];
    if ((input && !PyUnicode_Check(input)) || (output && !PyUnicode_Check(output))) {
        rc = -2;
        goto done;
    }
    if ((rc = as_tags(v[F_TAGS], &out->v[2])) != 0) goto done;
    if ((rc = as_int(v[F_INPUT_TOKENS], &out->v[8])) != 0) goto done;
    if ((rc = as_int(v[F_OUTPUT_TOKENS], &out->v[9])) != 0) goto done;
    if ((rc = cost_of(v, &out->v[10])) != 0) goto done;
    rc = BAIL;
    PyObject *kind = v[F_SPAN_TYPE];
    if (kind && PyUnicode_Check(kind) && PyUnicode_GET_LENGTH(kind) > 0) {
        if ((out->v[3] = PyObject_CallMethodNoArgs(kind, s_upper)) == NULL) goto done;
    } else {
        out->v[3] = s.llm_marker ? s_llm : s_default;
        Py_INCREF(out->v[3]);
    }
    if ((out->v[0] = str_or_none(v[F_SESSION])) == NULL) goto done;
    if ((out->v[1] = str_or_none(v[F_USER])) == NULL) goto done;
    if (prompt_used) {
        if ((out->v[4] = messages_text(s.messages[0])) == NULL) goto done;
    } else {
        out->v[4] = input ? input : Py_None;
        Py_INCREF(out->v[4]);
    }
    if (completion_used) {
        if ((out->v[5] = messages_text(s.messages[1])) == NULL) goto done;
    } else {
        out->v[5] = output ? output : Py_None;
        Py_INCREF(out->v[5]);
    }
    if ((out->v[6] = str_or_none(v[F_MODEL])) == NULL) goto done;
    if ((out->v[7] = str_or_none(v[F_PROVIDER])) == NULL) goto done;
    for (int i = 8; i <= 10; i++)
        if (out->v[i] == NULL) {
            out->v[i] = Py_None;
            Py_INCREF(Py_None);
        }
    if ((out->v[11] = PyDict_New()) == NULL) goto done;
    /* attributes._move_payloads: the payloads used leave the attributes, the others
     * move after the rest (a key deleted and set again goes to the end of a dict) */
    if (s.payloads) { /* the keys stay alive in `keys` while they leave the dict */
        PyObject *keys = PyDict_Keys(attrs);
        if (keys == NULL) goto done;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
            PyObject *key = PyList_GET_ITEM(keys, i);
            PyObject *role = role_of(key);
            if (role == NULL) goto done_list;
            long kind = PyLong_AsLong(PyTuple_GET_ITEM(role, 0));
            int payload = kind == R_MESSAGE || (kind == R_FIELD && PyTuple_GET_ITEM(role, 3) == Py_True);
            int used = key == input_key || key == output_key;
            if (kind == R_MESSAGE)
                used = PyTuple_GET_ITEM(role, 1) == Py_True ? prompt_used : completion_used;
            Py_DECREF(role);
            if (!payload) continue;
            PyObject *value = PyDict_GetItemWithError(attrs, key);
            if (value == NULL) goto done_list;
            Py_INCREF(value);
            int failed = PyDict_DelItem(attrs, key);
            if (!failed && !used) failed = PyDict_SetItem(attrs, key, value);
            Py_DECREF(value);
            if (failed) goto done_list;
        }
        Py_DECREF(keys);
        goto moved;
    done_list:
        Py_DECREF(keys);
        goto done;
    }
moved:
    Py_INCREF(attrs);
    out->v[12] = attrs;
    scan_clear(&s);
    return 0;
done:
    scan_clear(&s);
    fields_clear(out);
    return rc;
}

/* The Python conventions, for a span the fast path leaves alone. */
static int normalise_slow(PyObject *attrs, Resource *resource, Fields *out) {
    memset(out, 0, sizeof *out);
    if (resource->py_scan == NULL &&
        (resource->py_scan = PyObject_CallOneArg(scan_fn, resource->attrs)) == NULL)
        return BAIL;
    PyObject *span_scan = PyObject_CallOneArg(scan_fn, attrs);
    if (span_scan == NULL) return BAIL;
    PyObject *result = PyObject_CallFunctionObjArgs(normalise_fn, span_scan, resource->py_scan, NULL);
    Py_DECREF(span_scan);
    if (result == NULL) return BAIL;
    for (int i = 0; i < 13; i++) {
        if ((out->v[i] = PyObject_GetAttr(result, s_norm[i])) == NULL) {
            fields_clear(out);
            Py_DECREF(result);
            return BAIL;
        }
    }
    Py_DECREF(result);
    return 0;
}

static int truthy_count(PyObject *n) {
    return n != Py_None && PyObject_IsTrue(n) == 1;
}

/* One span: decode._record(). */
static int span_row(Reader span, Resource *resource, Output *out) {
    Reader trace = {0}, span_id = {0}, parent = {0}, name = {0}, status_message = {0};
    uint64_t start = 0, end = 0, code = 0, number;
    int seen_status = 0, events = 0;
    PyObject *attrs = NULL, *event_list = NULL;
    Reader r = span;
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader inner;
        if (read_tag(&r, &field, &wt) < 0) goto bail;
        switch (field) {
        case 1: EXPECT(wt, WT_LEN); if (read_len(&r, &trace) < 0) goto bail; break;
        case 2: EXPECT(wt, WT_LEN); if (read_len(&r, &span_id) < 0) goto bail; break;
        case 4: EXPECT(wt, WT_LEN); if (read_len(&r, &parent) < 0) goto bail; break;
        case 5: /* a name sent twice: the last is kept, upb checks both */
            EXPECT(wt, WT_LEN);
            if ((name.p && check_text(&name) < 0) || read_len(&r, &name) < 0) goto bail;
            break;
        case 3:
            EXPECT(wt, WT_LEN);
            if (read_len(&r, &inner) < 0 || check_text(&inner) < 0) goto bail;
            break;
        case 7: EXPECT(wt, WT_I64); if (read_fixed64(&r, &start) < 0) goto bail; break;
        case 8: EXPECT(wt, WT_I64); if (read_fixed64(&r, &end) < 0) goto bail; break;
        case 6: case 10: case 12: case 14:
            EXPECT(wt, WT_VARINT);
            if (read_varint(&r, &number) < 0) goto bail;
            break;
        case 16: EXPECT(wt, WT_I32); if (skip(&r, wt) < 0) goto bail; break;
        case 9: EXPECT(wt, WT_LEN); if (read_len(&r, &inner) < 0) goto bail; break;
        case 11: EXPECT(wt, WT_LEN); if (read_len(&r, &inner) < 0) goto bail; events++; break;
        case 13: { /* links: not stored, but read as upb reads them */
            EXPECT(wt, WT_LEN);
            if (read_len(&r, &inner) < 0) goto bail;
            Reader link = inner;
            while (link.p < link.end) {
                Reader part;
                if (read_tag(&link, &field, &wt) < 0) goto bail;
                if (field == 1 || field == 2 || field == 3 || field == 4) {
                    EXPECT(wt, WT_LEN);
                    if (read_len(&link, &part) < 0) goto bail;
                    if (field == 3 && check_text(&part) < 0) goto bail;
                } else if (field == 5) {
                    EXPECT(wt, WT_VARINT);
                    if (read_varint(&link, &number) < 0) goto bail;
                } else if (field == 6) {
                    EXPECT(wt, WT_I32);
                    if (skip(&link, wt) < 0) goto bail;
                } else if (skip(&link, wt) < 0) {
                    goto bail;
                }
            }
            PyObject *link_attrs = attributes_of(inner, 4);
            if (link_attrs == NULL) goto bail;
            Py_DECREF(link_attrs);
            break;
        }
        case 15: {
            EXPECT(wt, WT_LEN);
            if (seen_status++ || read_len(&r, &inner) < 0) goto bail;
            while (inner.p < inner.end) {
                Reader part;
                if (read_tag(&inner, &field, &wt) < 0) goto bail;
                if (field == 2) {
                    EXPECT(wt, WT_LEN);
                    if (status_message.p && check_text(&status_message) < 0) goto bail;
                    if (read_len(&inner, &part) < 0) goto bail;
                    status_message = part;
                } else if (field == 3) {
                    EXPECT(wt, WT_VARINT);
                    if (read_varint(&inner, &code) < 0) goto bail;
                } else if (skip(&inner, wt) < 0) {
                    goto bail;
                }
            }
            break;
        }
        default:
            if (skip(&r, wt) < 0) goto bail;
        }
    }
    /* Everything upb would read is read again below (attributes, events, strings) or
     * was checked above; from here on a failure to read is a bail like any other. */
    PyObject *name_text = text(&name), *message_text = NULL;
    if (name_text == NULL) goto bail;
    if ((message_text = text(&status_message)) == NULL) {
        Py_DECREF(name_text);
        goto bail;
    }
    if ((attrs = attributes_of(span, 9)) == NULL) goto bail_texts;
    if (events) {
        if ((event_list = PyList_New(0)) == NULL) goto bail_texts;
        r = span;
        while (r.p < r.end) {
            uint32_t field;
            int wt;
            Reader inner;
            read_tag(&r, &field, &wt);
            if (field != 11) {
                skip(&r, wt);
                continue;
            }
            read_len(&r, &inner);
            Reader e = inner, event_name = {0};
            uint64_t at = 0;
            while (e.p < e.end) {
                Reader part;
                if (read_tag(&e, &field, &wt) < 0) goto bail_texts;
                if (field == 1) {
                    if (wt != WT_I64 || read_fixed64(&e, &at) < 0) goto bail_texts;
                } else if (field == 2) {
                    if (wt != WT_LEN || (event_name.p && check_text(&event_name) < 0)) goto bail_texts;
                    if (read_len(&e, &part) < 0) goto bail_texts;
                    event_name = part;
                } else if (field == 3) {
                    if (wt != WT_LEN || read_len(&e, &part) < 0) goto bail_texts;
                } else if (field == 4) {
                    if (wt != WT_VARINT || read_varint(&e, &number) < 0) goto bail_texts;
                } else if (skip(&e, wt) < 0) {
                    goto bail_texts;
                }
            }
            PyObject *event = PyDict_New(), *value;
            if (event == NULL) goto bail_texts;
            int failed = PyList_Append(event_list, event);
            Py_DECREF(event);
            if (failed) goto bail_texts;
            value = text(&event_name);
            failed = value == NULL || PyDict_SetItem(event, s_name, value) < 0;
            Py_XDECREF(value);
            if (failed) goto bail_texts;
            value = PyLong_FromUnsignedLongLong(at);
            failed = value == NULL || PyDict_SetItem(event, s_time_ns, value) < 0;
            Py_XDECREF(value);
            if (failed) goto bail_texts;
            value = attributes_of(inner, 3);
            failed = value == NULL || PyDict_SetItem(event, s_attributes, value) < 0;
            Py_XDECREF(value);
            if (failed) goto bail_texts;
        }
    }

    const char *problem = invalid(trace, span_id, parent, start, end);
    if (problem != NULL) {
        Py_DECREF(name_text);
        Py_DECREF(message_text);
        Py_DECREF(attrs);
        Py_XDECREF(event_list);
        PyObject *why = PyUnicode_FromString(problem);
        if (why == NULL) return BAIL;
        int failed = PyList_Append(out->errors, why);
        Py_DECREF(why);
        return failed ? BAIL : 0;
    }
    Fields f;
    int rc = normalise_fast(attrs, resource, &f);
    if (rc == -2) rc = normalise_slow(attrs, resource, &f);
    if (rc < 0) goto bail_texts;
    /* decode._record: the price table when the span gives tokens but no cost */
    if (f.v[10] == Py_None && f.v[6] != Py_None && (truthy_count(f.v[8]) || truthy_count(f.v[9]))) {
        PyObject *cost = PyObject_CallFunctionObjArgs(out->price, f.v[6], f.v[7], f.v[8], f.v[9], NULL);
        if (cost == NULL) {
            fields_clear(&f);
            goto bail_texts;
        }
        Py_DECREF(f.v[10]);
        f.v[10] = cost;
    }
    int failed = 0;
    Py_INCREF(out->project_id);
    failed |= append(out, C_PROJECT, out->project_id);
    failed |= append(out, C_TRACE, hex(trace.p, 16));
    failed |= append(out, C_SPAN, hex(span_id.p, 8));
    if (parent.end != parent.p && !all_zero(parent.p, 8)) {
        failed |= append(out, C_PARENT, hex(parent.p, 8));
    } else {
        Py_INCREF(Py_None);
        failed |= append(out, C_PARENT, Py_None);
    }
    failed |= append(out, C_NAME, name_text);
    Py_INCREF(f.v[3]);
    failed |= append(out, C_TYPE, f.v[3]);
    failed |= append(out, C_START, PyLong_FromUnsignedLongLong(start));
    failed |= append(out, C_END, PyLong_FromUnsignedLongLong(end > start ? end : start));
    int32_t status = (int32_t)(uint32_t)code;
    PyObject *status_text = status == 1 ? s_ok : status == 2 ? s_error : s_unset;
    Py_INCREF(status_text);
    failed |= append(out, C_STATUS, status_text);
    failed |= append(out, C_STATUS_MESSAGE, message_text);
    static const int from_fields[][2] = {
        {C_SESSION, 0}, {C_USER, 1}, {C_INPUT, 4}, {C_OUTPUT, 5}, {C_MODEL, 6},
        {C_PROVIDER, 7}, {C_INPUT_TOKENS, 8}, {C_OUTPUT_TOKENS, 9}, {C_COST, 10},
        {C_TAGS, 2}, {C_METADATA, 11},
    };
    for (size_t i = 0; i < sizeof from_fields / sizeof from_fields[0]; i++) {
        Py_INCREF(f.v[from_fields[i][1]]);
        failed |= append(out, from_fields[i][0], f.v[from_fields[i][1]]);
    }
    failed |= append(out, C_ATTRIBUTES, dumps_text(f.v[12]));
    if (event_list != NULL) {
        failed |= append(out, C_EVENTS, dumps_text(event_list));
    } else {
        Py_INCREF(s_empty_list_json);
        failed |= append(out, C_EVENTS, s_empty_list_json);
    }
    Py_INCREF(resource->json);
    failed |= append(out, C_RESOURCE, resource->json);
    Py_INCREF(resource->service);
    failed |= append(out, C_SERVICE, resource->service);
    fields_clear(&f);
    Py_DECREF(attrs);
    Py_XDECREF(event_list);
    if (failed && !PyErr_Occurred()) PyErr_SetString(PyExc_MemoryError, "lamina: a column");
    return failed ? BAIL : 0;
bail_texts:
    Py_DECREF(name_text);
    Py_XDECREF(message_text);
bail:
    Py_XDECREF(attrs);
    Py_XDECREF(event_list);
    return BAIL;
}

/* ---- resources, scopes, the request -------------------------------------------- */

static int resource_of(Reader resource_spans, Resource *res) {
    memset(res, 0, sizeof *res);
    Reader resource = {resource_spans.p, resource_spans.p};
    int seen = 0;
    Reader r = resource_spans;
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader inner;
        if (read_tag(&r, &field, &wt) < 0) return BAIL;
        if (field == 1) {
            if (wt != WT_LEN || seen++ || read_len(&r, &resource) < 0) return BAIL;
        } else if (field == 3) {
            if (wt != WT_LEN || read_len(&r, &inner) < 0 || check_text(&inner) < 0) return BAIL;
        } else if (skip(&r, wt) < 0) {
            return BAIL;
        }
    }
    /* entity_refs: strings upb checks */
    r = resource;
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader inner, part;
        uint64_t number;
        if (read_tag(&r, &field, &wt) < 0) return BAIL;
        if (field == 3) {
            if (wt != WT_LEN || read_len(&r, &inner) < 0) return BAIL;
            while (inner.p < inner.end) {
                if (read_tag(&inner, &field, &wt) < 0) return BAIL;
                if (field >= 1 && field <= 4) {
                    if (wt != WT_LEN || read_len(&inner, &part) < 0 || check_text(&part) < 0)
                        return BAIL;
                } else if (skip(&inner, wt) < 0) {
                    return BAIL;
                }
            }
        } else if (field == 2) {
            if (wt != WT_VARINT || read_varint(&r, &number) < 0) return BAIL;
        } else if (field == 1) {
            if (wt != WT_LEN || read_len(&r, &inner) < 0) return BAIL;
        } else if (skip(&r, wt) < 0) {
            return BAIL;
        }
    }
    if ((res->attrs = attributes_of(resource, 1)) == NULL) return BAIL;
    if ((res->json = dumps_text(res->attrs)) == NULL) return BAIL;
    PyObject *service = PyDict_GetItemWithError(res->attrs, s_service_name);
    if (service == NULL && PyErr_Occurred()) return BAIL;
    if ((res->service = str_or_none(service)) == NULL) return BAIL;
    if (scan(res->attrs, &res->scan, 0) < 0) return BAIL;
    return 0;
}

static void resource_clear(Resource *res) {
    Py_CLEAR(res->attrs);
    Py_CLEAR(res->json);
    Py_CLEAR(res->service);
    Py_CLEAR(res->py_scan);
}

static int scope_spans(Reader r, Resource *resource, Output *out) {
    int seen_scope = 0;
    Reader scope = {r.p, r.p};
    Reader walk = r;
    while (walk.p < walk.end) { /* the scope first: it is read as upb reads it */
        uint32_t field;
        int wt;
        Reader inner;
        if (read_tag(&walk, &field, &wt) < 0) return BAIL;
        if (field == 1) {
            if (wt != WT_LEN || seen_scope++ || read_len(&walk, &scope) < 0) return BAIL;
        } else if (field == 2) {
            if (wt != WT_LEN || read_len(&walk, &inner) < 0) return BAIL;
        } else if (field == 3) {
            if (wt != WT_LEN || read_len(&walk, &inner) < 0 || check_text(&inner) < 0) return BAIL;
        } else if (skip(&walk, wt) < 0) {
            return BAIL;
        }
    }
    walk = scope;
    while (walk.p < walk.end) {
        uint32_t field;
        int wt;
        Reader inner;
        uint64_t number;
        if (read_tag(&walk, &field, &wt) < 0) return BAIL;
        if (field == 1 || field == 2) {
            if (wt != WT_LEN || read_len(&walk, &inner) < 0 || check_text(&inner) < 0) return BAIL;
        } else if (field == 3) {
            if (wt != WT_LEN || read_len(&walk, &inner) < 0) return BAIL;
        } else if (field == 4) {
            if (wt != WT_VARINT || read_varint(&walk, &number) < 0) return BAIL;
        } else if (skip(&walk, wt) < 0) {
            return BAIL;
        }
    }
    PyObject *scope_attrs = attributes_of(scope, 3);
    if (scope_attrs == NULL) return BAIL;
    Py_DECREF(scope_attrs);
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader span;
        read_tag(&r, &field, &wt);
        if (field != 2) {
            skip(&r, wt);
            continue;
        }
        read_len(&r, &span);
        if (span_row(span, resource, out) < 0) return BAIL;
    }
    return 0;
}

static int resource_spans(Reader r, Output *out) {
    Resource resource;
    if (resource_of(r, &resource) < 0) {
        resource_clear(&resource);
        return BAIL;
    }
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader inner;
        read_tag(&r, &field, &wt); /* all checked by resource_of() */
        if (field != 2) {
            skip(&r, wt);
            continue;
        }
        if (wt != WT_LEN || read_len(&r, &inner) < 0 || scope_spans(inner, &resource, out) < 0) {
            resource_clear(&resource);
            return BAIL;
        }
    }
    resource_clear(&resource);
    return 0;
}

/* decode(body, project_id, price) -> (columns, errors) or None */
static PyObject *decode(PyObject *self, PyObject *args) {
    Py_buffer body;
    Output out;
    memset(&out, 0, sizeof out);
    if (!PyArg_ParseTuple(args, "y*UO", &body, &out.project_id, &out.price)) return NULL;
    if (roles == NULL) {
        PyBuffer_Release(&body);
        PyErr_SetString(PyExc_RuntimeError, "lamina._wire: configure() first");
        return NULL;
    }
    PyObject *result = NULL;
    for (int i = 0; i < N_COLUMNS; i++)
        if ((out.columns[i] = PyList_New(0)) == NULL) goto done;
    if ((out.errors = PyList_New(0)) == NULL) goto done;
    Reader r = {(const uint8_t *)body.buf, (const uint8_t *)body.buf + body.len};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader inner;
        if (read_tag(&r, &field, &wt) < 0) goto bail;
        if (field == 1) {
            if (wt != WT_LEN || read_len(&r, &inner) < 0 || resource_spans(inner, &out) < 0)
                goto bail;
        } else if (skip(&r, wt) < 0) {
            goto bail;
        }
    }
    PyObject *columns = PyList_New(N_COLUMNS);
    if (columns == NULL) goto done;
    for (int i = 0; i < N_COLUMNS; i++) {
        PyList_SET_ITEM(columns, i, out.columns[i]);
        out.columns[i] = NULL;
    }
    result = PyTuple_Pack(2, columns, out.errors);
    Py_DECREF(columns);
    goto done;
bail:
    if (!PyErr_Occurred()) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    for (int i = 0; i < N_COLUMNS; i++) Py_XDECREF(out.columns[i]);
    Py_XDECREF(out.errors);
    PyBuffer_Release(&body);
    return result;
}

/* count_spans(body) -> the number of spans, or -1 when the request is not well formed
 * enough to count (upb then gives the error). Reads no span. */
static PyObject *count_spans(PyObject *self, PyObject *args) {
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "y*", &body)) return NULL;
    long long count = 0;
    Reader r = {(const uint8_t *)body.buf, (const uint8_t *)body.buf + body.len};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        Reader rs, ss, span;
        if (read_tag(&r, &field, &wt) < 0) goto bad;
        if (field != 1 || wt != WT_LEN) {
            if (skip(&r, wt) < 0) goto bad;
            continue;
        }
        if (read_len(&r, &rs) < 0) goto bad;
        while (rs.p < rs.end) {
            if (read_tag(&rs, &field, &wt) < 0) goto bad;
            if (field != 2 || wt != WT_LEN) {
                if (skip(&rs, wt) < 0) goto bad;
                continue;
            }
            if (read_len(&rs, &ss) < 0) goto bad;
            while (ss.p < ss.end) {
                if (read_tag(&ss, &field, &wt) < 0) goto bad;
                if (field == 2 && wt == WT_LEN) count++;
                if ((wt == WT_LEN ? read_len(&ss, &span) : skip(&ss, wt)) < 0) goto bad;
            }
        }
    }
    PyBuffer_Release(&body);
    return PyLong_FromLongLong(count);
bad:
    PyBuffer_Release(&body);
    return PyLong_FromLong(-1);
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *r, *rf, *fi, *sf, *nf, *df, *dk;
    if (!PyArg_ParseTuple(args, "O!OO!OOOO!", &PyDict_Type, &r, &rf, &PyDict_Type, &fi, &sf, &nf,
                          &df, &PyDict_Type, &dk))
        return NULL;
    if (PyDict_GET_SIZE(fi) != N_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "lamina._wire: the conventions' fields changed");
        return NULL;
    }
    PyObject **slots[] = {&roles, &role_fn, &field_index, &scan_fn, &normalise_fn, &dumps_fn,
                          &dumps_kwargs};
    PyObject *given[] = {r, rf, fi, sf, nf, df, dk};
    for (int i = 0; i < 7; i++) {
        Py_XDECREF(*slots[i]);
        *slots[i] = Py_NewRef(given[i]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(body, project_id, price) -> (columns, errors), or None to leave the request "
     "to upb and lamina.otlp.decode"},
    {"count_spans", count_spans, METH_VARARGS, "count_spans(body) -> spans in the request, or -1"},
    {"configure", configure, METH_VARARGS,
     "configure(roles, role, field_index, scan, normalise, dumps, dumps_kwargs)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wire", "OTLP trace exports read from the wire format.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__wire(void) {
    static const char *norm[13] = {
        "session_id", "user_id", "tags", "span_type", "input", "output", "model", "provider",
        "input_tokens", "output_tokens", "cost", "metadata", "kept",
    };
    for (int i = 0; i < 13; i++)
        if ((s_norm[i] = PyUnicode_InternFromString(norm[i])) == NULL) return NULL;
    if (!(s_unset = PyUnicode_InternFromString("unset")) ||
        !(s_ok = PyUnicode_InternFromString("ok")) ||
        !(s_error = PyUnicode_InternFromString("error")) ||
        !(s_default = PyUnicode_InternFromString("DEFAULT")) ||
        !(s_llm = PyUnicode_InternFromString("LLM")) ||
        !(s_empty_list_json = PyUnicode_InternFromString("[]")) ||
        !(s_name = PyUnicode_InternFromString("name")) ||
        !(s_time_ns = PyUnicode_InternFromString("time_ns")) ||
        !(s_attributes = PyUnicode_InternFromString("attributes")) ||
        !(s_service_name = PyUnicode_InternFromString("service.name")) ||
        !(s_upper = PyUnicode_InternFromString("upper")) ||
        !(s_empty = PyUnicode_InternFromString("")))
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *names = PyTuple_New(N_COLUMNS);
    if (names == NULL) goto fail;
    for (int i = 0; i < N_COLUMNS; i++) {
        PyObject *name = column_names[i] ? PyUnicode_InternFromString(column_names[i]) : NULL;
        if (name == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "lamina._wire: a column has no name");
            Py_DECREF(names);
            goto fail;
        }
        PyTuple_SET_ITEM(names, i, name);
    }
    if (PyModule_AddObject(m, "COLUMNS", names) < 0) {
        Py_DECREF(names);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}

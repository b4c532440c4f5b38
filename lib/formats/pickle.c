#include "formats/pickle.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what a state_dict needs, so a crafted pickle cannot exhaust
 * memory: values created, stack depth, memo size. */
enum {
        MAX_VALUES = 1 << 22,
        MAX_STACK = 1 << 16,
        MAX_MEMO = 1 << 20,
        MAX_RANK = 8,
};

struct vm {
        struct pickle *p;
        const uint8_t *data;
        size_t size, pos;
        struct pvalue **stack;
        size_t depth;
        struct pvalue **memo;
        size_t memo_size;  /* slots allocated */
        size_t memo_count; /* slots filled: MEMOIZE's next index */
        struct an_error *err;
};

size_t storage_dtype_size(enum storage_dtype d)
{
        static const size_t sizes[] = {4, 2, 2, 8, 8};
        return sizes[d];
}

static enum an_status fail(struct vm *vm, const char *fmt, const char *what)
{
        char msg[200];
        snprintf(msg, sizeof msg, fmt, what);
        return an_error_set(vm->err, AN_E_FORMAT, "pickle: %s (at byte %zu)",
                            msg, vm->pos);
}

static struct pvalue *new_value(struct vm *vm, enum pv_type type)
{
        struct pickle *p = vm->p;
        if (p->n_all >= MAX_VALUES)
                return NULL;
        if (p->n_all == p->cap_all) {
                size_t cap = p->cap_all ? 2 * p->cap_all : 256;
                struct pvalue **all = realloc(p->all, cap * sizeof *all);
                if (!all)
                        return NULL;
                p->all = all;
                p->cap_all = cap;
        }
        struct pvalue *v = calloc(1, sizeof *v);
        if (v) {
                v->type = type;
                p->all[p->n_all++] = v;
        }
        return v;
}

static bool append_item(struct pvalue *v, struct pvalue *item)
{
        if (v->n == v->cap) {
                size_t cap = v->cap ? 2 * v->cap : 8;
                struct pvalue **items = realloc(v->items, cap * sizeof *items);
                if (!items)
                        return false;
                v->items = items;
                v->cap = cap;
        }
        v->items[v->n++] = item;
        return true;
}

static bool push(struct vm *vm, struct pvalue *v)
{
        if (!v || vm->depth >= MAX_STACK)
                return false;
        vm->stack[vm->depth++] = v;
        return true;
}

static struct pvalue *pop(struct vm *vm)
{
        return vm->depth ? vm->stack[--vm->depth] : NULL;
}

static bool take(struct vm *vm, size_t n, const uint8_t **out)
{
        if (n > vm->size - vm->pos)
                return false;
        *out = vm->data + vm->pos;
        vm->pos += n;
        return true;
}

static uint64_t read_le(const uint8_t *b, int n)
{
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | b[i];
        return v;
}

/* Index of the topmost MARK, or -1. */
static long find_mark(struct vm *vm)
{
        for (size_t i = vm->depth; i > 0; i--)
                if (vm->stack[i - 1]->type == PV_MARK)
                        return (long)i - 1;
        return -1;
}

static enum an_status op_string(struct vm *vm, int len_bytes)
{
        const uint8_t *b, *s;
        if (!take(vm, len_bytes, &b))
                return fail(vm, "%s", "truncated string length");
        uint64_t len = read_le(b, len_bytes);
        if (len > vm->size - vm->pos || !take(vm, len, &s))
                return fail(vm, "%s", "string runs past the end");
        struct pvalue *v = new_value(vm, PV_STR);
        if (!v || !(v->str = malloc(len + 1)))
                return an_error_set(vm->err, AN_E_NOMEM, "out of memory");
        memcpy(v->str, s, len);
        v->str[len] = 0;
        v->len = len;
        return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static enum an_status push_int(struct vm *vm, int64_t i)
{
        struct pvalue *v = new_value(vm, PV_INT);
        if (!v)
                return an_error_set(vm->err, AN_E_NOMEM, "too many values");
        v->i = i;
        return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static enum an_status op_long(struct vm *vm, int len_bytes)
{
        const uint8_t *b, *digits;
        if (!take(vm, len_bytes, &b))
                return fail(vm, "%s", "truncated LONG");
        uint64_t n = read_le(b, len_bytes);
        if (n > vm->size - vm->pos || !take(vm, n, &digits))
                return fail(vm, "%s", "LONG runs past the end");
        if (n <= 8) {
                uint64_t u = n ? read_le(digits, (int)n) : 0;
                if (n && n < 8 && (digits[n - 1] & 0x80)) /* sign-extend */
                        u |= ~(uint64_t)0 << (8 * n);
                return push_int(vm, (int64_t)u);
        }
        struct pvalue *v = new_value(vm, PV_BIGINT);
        if (!v || !(v->str = malloc(n)))
                return an_error_set(vm->err, AN_E_NOMEM, "out of memory");
        memcpy(v->str, digits, n);
        v->len = n;
        return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static const struct {
        const char *name;
        bool is_storage;
        enum storage_dtype dtype;
} allowed_globals[] = {
        {"collections.OrderedDict", false, 0},
        {"torch._utils._rebuild_tensor_v2", false, 0},
        {"torch._utils._rebuild_tensor", false, 0},
        {"torch.FloatStorage", true, SD_F32},
        {"torch.HalfStorage", true, SD_F16},
        {"torch.BFloat16Storage", true, SD_BF16},
        {"torch.DoubleStorage", true, SD_F64},
        {"torch.LongStorage", true, SD_I64},
};
enum { N_ALLOWED = sizeof allowed_globals / sizeof allowed_globals[0] };

/* Accepts module.name only if it is on the list above. */
static enum an_status push_global(struct vm *vm, const char *module,
                                  size_t mlen, const char *name, size_t nlen)
{
        char full[120];
        if (mlen + nlen + 2 > sizeof full)
                return fail(vm, "%s", "global name too long");
        memcpy(full, module, mlen);
        full[mlen] = '.';
        memcpy(full + mlen + 1, name, nlen);
        full[mlen + nlen + 1] = 0;
        for (int i = 0; i < N_ALLOWED; i++)
                if (!strcmp(full, allowed_globals[i].name)) {
                        struct pvalue *v = new_value(vm, PV_GLOBAL);
                        if (!v || !(v->str = strdup(full)))
                                return an_error_set(vm->err, AN_E_NOMEM,
                                                    "out of memory");
                        v->dtype = allowed_globals[i].dtype;
                        v->i = allowed_globals[i].is_storage;
                        return push(vm, v) ? AN_OK
                                           : fail(vm, "%s", "stack overflow");
                }
        for (char *c = full; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                        *c = '?';
        return fail(vm, "refers to %s, which a state_dict does not use", full);
}

static enum an_status op_global(struct vm *vm)
{
        /* "module\nname\n" */
        const char *start = (const char *)vm->data + vm->pos;
        size_t left = vm->size - vm->pos;
        const char *nl1 = memchr(start, '\n', left);
        const char *nl2 =
                nl1 ? memchr(nl1 + 1, '\n', left - (nl1 + 1 - start)) : NULL;
        if (!nl2)
                return fail(vm, "%s", "truncated GLOBAL");
        vm->pos += (size_t)(nl2 + 1 - start);
        return push_global(vm, start, (size_t)(nl1 - start), nl1 + 1,
                           (size_t)(nl2 - nl1 - 1));
}

static enum an_status op_stack_global(struct vm *vm)
{
        struct pvalue *name = pop(vm), *module = pop(vm);
        if (!name || !module || name->type != PV_STR || module->type != PV_STR)
                return fail(vm, "%s", "STACK_GLOBAL needs two strings");
        return push_global(vm, module->str, module->len, name->str, name->len);
}

/* Pops items down to the topmost MARK into a new container. */
static enum an_status collect(struct vm *vm, enum pv_type type,
                              struct pvalue **out)
{
        long mark = find_mark(vm);
        if (mark < 0)
                return fail(vm, "%s", "no MARK");
        struct pvalue *v = new_value(vm, type);
        if (!v)
                return an_error_set(vm->err, AN_E_NOMEM, "too many values");
        for (size_t i = (size_t)mark + 1; i < vm->depth; i++)
                if (!append_item(v, vm->stack[i]))
                        return an_error_set(vm->err, AN_E_NOMEM,
                                            "out of memory");
        vm->depth = (size_t)mark;
        *out = v;
        return AN_OK;
}

static enum an_status small_tuple(struct vm *vm, size_t n)
{
        if (vm->depth < n)
                return fail(vm, "%s", "stack underflow");
        struct pvalue *v = new_value(vm, PV_TUPLE);
        if (!v)
                return an_error_set(vm->err, AN_E_NOMEM, "too many values");
        for (size_t i = vm->depth - n; i < vm->depth; i++)
                if (!append_item(v, vm->stack[i]))
                        return an_error_set(vm->err, AN_E_NOMEM,
                                            "out of memory");
        vm->depth -= n;
        return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static enum an_status add_items(struct vm *vm, struct pvalue *target,
                                struct pvalue **items, size_t n, bool pairs)
{
        if (pairs ? target->type != PV_DICT : target->type != PV_LIST)
                return fail(vm, "%s",
                            pairs ? "SETITEMS on a non-dict"
                                  : "APPENDS on a non-list");
        if (pairs && n % 2)
                return fail(vm, "%s", "odd number of dict items");
        for (size_t i = 0; i < n; i++)
                if (!append_item(target, items[i]))
                        return an_error_set(vm->err, AN_E_NOMEM,
                                            "out of memory");
        return AN_OK;
}

static enum an_status op_setitems(struct vm *vm, bool pairs)
{
        long mark = find_mark(vm);
        if (mark < 1)
                return fail(vm, "%s", "no MARK");
        struct pvalue *target = vm->stack[mark - 1];
        enum an_status st = add_items(vm, target, vm->stack + mark + 1,
                                      vm->depth - (size_t)mark - 1, pairs);
        vm->depth = (size_t)mark;
        return st;
}

static bool int_tuple(const struct pvalue *t, int64_t *out, int *n)
{
        if (t->type != PV_TUPLE || t->n > MAX_RANK)
                return false;
        for (size_t i = 0; i < t->n; i++) {
                if (t->items[i]->type != PV_INT)
                        return false;
                out[i] = t->items[i]->i;
        }
        *n = (int)t->n;
        return true;
}

/* torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride, ...) */
static enum an_status rebuild_tensor(struct vm *vm, struct pvalue *args)
{
        if (args->n < 4 || args->items[0]->type != PV_STORAGE ||
            args->items[1]->type != PV_INT)
                return fail(vm, "%s", "malformed tensor rebuild arguments");
        struct pvalue *t = new_value(vm, PV_TENSOR);
        if (!t)
                return an_error_set(vm->err, AN_E_NOMEM, "too many values");
        int rank_size, rank_stride;
        if (!int_tuple(args->items[2], t->size, &rank_size) ||
            !int_tuple(args->items[3], t->stride, &rank_stride) ||
            rank_size != rank_stride)
                return fail(vm, "%s", "malformed tensor size or stride");
        t->storage = args->items[0];
        t->offset = args->items[1]->i;
        t->rank = rank_size;
        return push(vm, t) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static enum an_status op_reduce(struct vm *vm)
{
        struct pvalue *args = pop(vm), *callable = pop(vm);
        if (!args || !callable || args->type != PV_TUPLE ||
            callable->type != PV_GLOBAL)
                return fail(vm, "%s", "REDUCE needs a global and a tuple");
        if (!strcmp(callable->str, "collections.OrderedDict")) {
                if (args->n)
                        return fail(vm, "%s", "OrderedDict with arguments");
                return push(vm, new_value(vm, PV_DICT))
                               ? AN_OK
                               : fail(vm, "%s", "stack overflow");
        }
        if (!strncmp(callable->str, "torch._utils._rebuild_tensor", 28))
                return rebuild_tensor(vm, args);
        return fail(vm, "cannot call %s", callable->str);
}

/* ('storage', StorageType, key, location, numel[, view]) */
static enum an_status op_persid(struct vm *vm)
{
        struct pvalue *pid = pop(vm);
        if (!pid || pid->type != PV_TUPLE || pid->n < 5 ||
            pid->items[0]->type != PV_STR ||
            strcmp(pid->items[0]->str, "storage") ||
            pid->items[1]->type != PV_GLOBAL || !pid->items[1]->i ||
            pid->items[2]->type != PV_STR || pid->items[4]->type != PV_INT)
                return fail(vm, "%s", "unexpected persistent id");
        if (pid->n > 5 && pid->items[5]->type != PV_NONE)
                return fail(vm, "%s", "storage views are not supported");
        struct pvalue *s = new_value(vm, PV_STORAGE);
        if (!s || !(s->str = strdup(pid->items[2]->str)))
                return an_error_set(vm->err, AN_E_NOMEM, "out of memory");
        s->dtype = pid->items[1]->dtype;
        s->i = pid->items[4]->i;
        return push(vm, s) ? AN_OK : fail(vm, "%s", "stack overflow");
}

static enum an_status memo_put(struct vm *vm, uint64_t index)
{
        if (!vm->depth)
                return fail(vm, "%s", "memo of an empty stack");
        if (index >= MAX_MEMO)
                return fail(vm, "%s", "memo index too large");
        if (index >= vm->memo_size) {
                size_t size = index + 1 > 2 * vm->memo_size ? index + 1
                                                            : 2 * vm->memo_size;
                struct pvalue **memo = realloc(vm->memo, size * sizeof *memo);
                if (!memo)
                        return an_error_set(vm->err, AN_E_NOMEM,
                                            "out of memory");
                memset(memo + vm->memo_size, 0,
                       (size - vm->memo_size) * sizeof *memo);
                vm->memo = memo;
                vm->memo_size = size;
        }
        if (!vm->memo[index])
                vm->memo_count++;
        vm->memo[index] = vm->stack[vm->depth - 1];
        return AN_OK;
}

static enum an_status memo_get(struct vm *vm, uint64_t index)
{
        if (index >= vm->memo_size || !vm->memo[index])
                return fail(vm, "%s", "memo entry missing");
        return push(vm, vm->memo[index]) ? AN_OK
                                         : fail(vm, "%s", "stack overflow");
}

static enum an_status read_arg(struct vm *vm, int n, uint64_t *out)
{
        const uint8_t *b;
        if (!take(vm, n, &b))
                return fail(vm, "%s", "truncated opcode argument");
        *out = read_le(b, n);
        return AN_OK;
}

static enum an_status push_new(struct vm *vm, enum pv_type type, int64_t i)
{
        struct pvalue *v = new_value(vm, type);
        if (!v)
                return an_error_set(vm->err, AN_E_NOMEM, "too many values");
        v->i = i;
        return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
}

/* Executes one opcode; sets *done at STOP. */
static enum an_status step(struct vm *vm, bool *done)
{
        const uint8_t *b;
        uint64_t arg = 0;
        enum an_status st = AN_OK;
        struct pvalue *v, *w;
        if (!take(vm, 1, &b))
                return fail(vm, "%s", "ends without STOP");
        uint8_t op = *b;
        switch (op) {
        case 0x80: return read_arg(vm, 1, &arg); /* PROTO */
        case 0x95: return read_arg(vm, 8, &arg); /* FRAME */
        case '.': *done = true; return AN_OK;
        case '(': return push_new(vm, PV_MARK, 0);
        case '}': return push_new(vm, PV_DICT, 0);
        case ']': return push_new(vm, PV_LIST, 0);
        case ')': return push_new(vm, PV_TUPLE, 0);
        case 'N': return push_new(vm, PV_NONE, 0);
        case 0x88: return push_new(vm, PV_BOOL, 1);
        case 0x89: return push_new(vm, PV_BOOL, 0);
        case 'K':
                return (st = read_arg(vm, 1, &arg))
                               ? st
                               : push_int(vm, (int64_t)arg);
        case 'M':
                return (st = read_arg(vm, 2, &arg))
                               ? st
                               : push_int(vm, (int64_t)arg);
        case 'J':
                return (st = read_arg(vm, 4, &arg))
                               ? st
                               : push_int(vm, (int32_t)(uint32_t)arg);
        case 0x8a: return op_long(vm, 1);
        case 0x8b: return op_long(vm, 4);
        case 'G': {
                if (!take(vm, 8, &b))
                        return fail(vm, "%s", "truncated BINFLOAT");
                uint64_t u = 0;
                for (int i = 0; i < 8; i++)
                        u = u << 8 | b[i];
                v = new_value(vm, PV_FLOAT);
                if (!v)
                        return an_error_set(vm->err, AN_E_NOMEM, "too many");
                memcpy(&v->f, &u, sizeof v->f);
                return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
        }
        case 'X':
        case 'T':
        case 'B': return op_string(vm, 4);
        case 0x8c:
        case 'U':
        case 'C': return op_string(vm, 1);
        case 0x8d:
        case 0x8e: return op_string(vm, 8);
        case 'c': return op_global(vm);
        case 0x93: return op_stack_global(vm);
        case 'q': return (st = read_arg(vm, 1, &arg)) ? st : memo_put(vm, arg);
        case 'r': return (st = read_arg(vm, 4, &arg)) ? st : memo_put(vm, arg);
        case 0x94: return memo_put(vm, vm->memo_count);
        case 'h': return (st = read_arg(vm, 1, &arg)) ? st : memo_get(vm, arg);
        case 'j': return (st = read_arg(vm, 4, &arg)) ? st : memo_get(vm, arg);
        case 't':
                if ((st = collect(vm, PV_TUPLE, &v)) != AN_OK)
                        return st;
                return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
        case 'l':
                if ((st = collect(vm, PV_LIST, &v)) != AN_OK)
                        return st;
                return push(vm, v) ? AN_OK : fail(vm, "%s", "stack overflow");
        case 0x85: return small_tuple(vm, 1);
        case 0x86: return small_tuple(vm, 2);
        case 0x87: return small_tuple(vm, 3);
        case 'R': return op_reduce(vm);
        case 'Q': return op_persid(vm);
        case 'u': return op_setitems(vm, true);
        case 'e': return op_setitems(vm, false);
        case 's':
        case 'a': {
                size_t n = op == 's' ? 2 : 1;
                if (vm->depth < n + 1)
                        return fail(vm, "%s", "stack underflow");
                w = vm->stack[vm->depth - n - 1];
                st = add_items(vm, w, vm->stack + vm->depth - n, n, op == 's');
                vm->depth -= n;
                return st;
        }
        case 'b': /* BUILD: state for a dict (OrderedDict._metadata) or a
                   * tensor is dropped; nothing else may be built */
                v = pop(vm);
                w = vm->depth ? vm->stack[vm->depth - 1] : NULL;
                if (!v || !w || (w->type != PV_DICT && w->type != PV_TENSOR))
                        return fail(vm, "%s", "BUILD on an unexpected object");
                return AN_OK;
        case '0': return pop(vm) ? AN_OK : fail(vm, "%s", "stack underflow");
        default: {
                char name[8];
                snprintf(name, sizeof name, "0x%02x", op);
                return fail(vm, "opcode %s is not allowed", name);
        }
        }
}

enum an_status pickle_load(struct pickle *p, const uint8_t *data, size_t size,
                           struct pvalue **out, struct an_error *err)
{
        struct vm vm = {p, data, size, 0, NULL, 0, NULL, 0, 0, err};
        vm.stack = malloc(MAX_STACK * sizeof *vm.stack);
        if (!vm.stack)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        bool done = false;
        enum an_status st = AN_OK;
        while (st == AN_OK && !done)
                st = step(&vm, &done);
        if (st == AN_OK && vm.depth != 1)
                st = fail(&vm, "%s", "STOP with a malformed stack");
        if (st == AN_OK)
                *out = vm.stack[0];
        p->consumed = vm.pos;
        free(vm.stack);
        free(vm.memo);
        return st;
}

void pickle_free(struct pickle *p)
{
        for (size_t i = 0; i < p->n_all; i++) {
                free(p->all[i]->str);
                free(p->all[i]->items);
                free(p->all[i]);
        }
        free(p->all);
        memset(p, 0, sizeof *p);
}

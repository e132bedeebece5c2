/*
 * pybuf_status_name, pybuf_last_status, pybuf_last_error: names of every status, the
 * thread-local last error (set by failures, cleared by successes, per thread), and
 * messages that name the offending value. Also the version macros.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "pybuf.h"
#include "pybuf.h" /* twice, on purpose: the include guard must work */
#include "check.h"

static void status_values_are_fixed(void) {
    CHECK_EQ(PYBUF_STATUS_OK, 0);
    CHECK_EQ(PYBUF_STATUS_NULL_POINTER, -1);
    CHECK_EQ(PYBUF_STATUS_INVALID_ARGUMENT, -2);
    CHECK_EQ(PYBUF_STATUS_INVALID_NDIM, -3);
    CHECK_EQ(PYBUF_STATUS_INVALID_SHAPE, -4);
    CHECK_EQ(PYBUF_STATUS_INVALID_ITEMSIZE, -5);
    CHECK_EQ(PYBUF_STATUS_INVALID_STRIDES, -6);
    CHECK_EQ(PYBUF_STATUS_INVALID_SUBOFFSETS, -7);
    CHECK_EQ(PYBUF_STATUS_LENGTH_MISMATCH, -8);
    CHECK_EQ(PYBUF_STATUS_OVERFLOW, -9);
    CHECK_EQ(PYBUF_STATUS_INDEX_OUT_OF_RANGE, -10);
    CHECK_EQ(PYBUF_STATUS_INVALID_FORMAT, -11);
    CHECK_EQ(PYBUF_STATUS_UNSUPPORTED_FORMAT, -12);
    CHECK_EQ(PYBUF_STATUS_READ_ONLY, -13);
    CHECK_EQ(PYBUF_STATUS_SHAPE_MISMATCH, -14);
    CHECK_EQ(PYBUF_STATUS_BUFFER_REQUEST, -15);
    CHECK_EQ(PYBUF_STATUS_FOREIGN_VIEW, -16);
    CHECK_EQ(PYBUF_STATUS_EXPORTS_EXIST, -17);
    CHECK_EQ(PYBUF_STATUS_OUT_OF_MEMORY, -18);
    CHECK_EQ(PYBUF_STATUS_INTERNAL, -19);
}

static void status_names(void) {
    static const struct {
        int status;
        const char *name;
    } all[] = {
        {PYBUF_STATUS_OK, "PYBUF_STATUS_OK"},
        {PYBUF_STATUS_NULL_POINTER, "PYBUF_STATUS_NULL_POINTER"},
        {PYBUF_STATUS_INVALID_ARGUMENT, "PYBUF_STATUS_INVALID_ARGUMENT"},
        {PYBUF_STATUS_INVALID_NDIM, "PYBUF_STATUS_INVALID_NDIM"},
        {PYBUF_STATUS_INVALID_SHAPE, "PYBUF_STATUS_INVALID_SHAPE"},
        {PYBUF_STATUS_INVALID_ITEMSIZE, "PYBUF_STATUS_INVALID_ITEMSIZE"},
        {PYBUF_STATUS_INVALID_STRIDES, "PYBUF_STATUS_INVALID_STRIDES"},
        {PYBUF_STATUS_INVALID_SUBOFFSETS, "PYBUF_STATUS_INVALID_SUBOFFSETS"},
        {PYBUF_STATUS_LENGTH_MISMATCH, "PYBUF_STATUS_LENGTH_MISMATCH"},
        {PYBUF_STATUS_OVERFLOW, "PYBUF_STATUS_OVERFLOW"},
        {PYBUF_STATUS_INDEX_OUT_OF_RANGE, "PYBUF_STATUS_INDEX_OUT_OF_RANGE"},
        {PYBUF_STATUS_INVALID_FORMAT, "PYBUF_STATUS_INVALID_FORMAT"},
        {PYBUF_STATUS_UNSUPPORTED_FORMAT, "PYBUF_STATUS_UNSUPPORTED_FORMAT"},
        {PYBUF_STATUS_READ_ONLY, "PYBUF_STATUS_READ_ONLY"},
        {PYBUF_STATUS_SHAPE_MISMATCH, "PYBUF_STATUS_SHAPE_MISMATCH"},
        {PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_STATUS_BUFFER_REQUEST"},
        {PYBUF_STATUS_FOREIGN_VIEW, "PYBUF_STATUS_FOREIGN_VIEW"},
        {PYBUF_STATUS_EXPORTS_EXIST, "PYBUF_STATUS_EXPORTS_EXIST"},
        {PYBUF_STATUS_OUT_OF_MEMORY, "PYBUF_STATUS_OUT_OF_MEMORY"},
        {PYBUF_STATUS_INTERNAL, "PYBUF_STATUS_INTERNAL"},
    };
    size_t i;
    CHECK_EQ(sizeof all / sizeof all[0], 20);
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK_STR_EQ(pybuf_status_name(all[i].status), all[i].name);
        /* static: the same pointer every time */
        CHECK_PTR_EQ(pybuf_status_name(all[i].status), pybuf_status_name(all[i].status));
    }
    {
        static const int unknown[] = {1, 2, 100, -1000, INT_MAX, INT_MIN, INT_MIN + 1};
        for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
            CHECK_STR_EQ(pybuf_status_name(unknown[i]), "PYBUF_STATUS_UNKNOWN");
    }
    {
        /* Statuses added later continue the sequence: below PYBUF_STATUS_INTERNAL, every
           value is named (distinctly, "PYBUF_STATUS_...") down to the first unknown one,
           and every value after that is unknown. */
        int v, first_unknown = 0;
        for (v = PYBUF_STATUS_INTERNAL - 1; v >= -200; v--) {
            const char *name = pybuf_status_name(v);
            CHECK(name != NULL);
            if (name == NULL)
                return;
            if (first_unknown == 0 && strcmp(name, "PYBUF_STATUS_UNKNOWN") != 0) {
                int w;
                CHECK(strncmp(name, "PYBUF_STATUS_", 13) == 0);
                for (w = 0; w > v; w--)
                    CHECK(strcmp(pybuf_status_name(w), name) != 0);
            } else {
                if (first_unknown == 0)
                    first_unknown = v;
                CHECK_STR_EQ(name, "PYBUF_STATUS_UNKNOWN");
            }
        }
        CHECK(first_unknown != 0);
    }
}

static void status_name_does_not_touch_last_error(void) {
    PROVOKE_ERROR();
    (void)pybuf_status_name(PYBUF_STATUS_OK);
    (void)pybuf_status_name(12345);
    CHECK_LAST(PYBUF_STATUS_INVALID_NDIM);
    /* reading the status and the message does not change them either */
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_INVALID_NDIM);
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_INVALID_NDIM);
    CHECK_STR_EQ(pybuf_last_error(), pybuf_last_error());
    CHECK_LAST(PYBUF_STATUS_INVALID_NDIM);
}

/* The message after `call` (which fails with `status`) contains `needle`. */
#define CHECK_MESSAGE(call, status, needle)                                                \
    do {                                                                                   \
        CHECK_STATUS(call, status);                                                        \
        ++check_count_;                                                                    \
        if (strstr(pybuf_last_error(), (needle)) == NULL)                                  \
            CHECK_FAIL_("%s:%d: message \"%s\" after %s does not mention \"%s\"\n",        \
                        __FILE__, __LINE__, pybuf_last_error(), #call, (needle));          \
    } while (0)

static void messages_name_the_value(void) {
    pybuf_ssize_t shape[2] = {2, -3}, strides[2];
    double mem[4];
    pybuf_ssize_t ok_shape[1] = {4};
    pybuf_buffer v = make_view(mem, 8, 1, ok_shape, NULL, NULL);
    CHECK_MESSAGE(pybuf_fill_contiguous_strides(65, shape, strides, 8, 'C'),
                  PYBUF_STATUS_INVALID_NDIM, "65");
    CHECK_MESSAGE(pybuf_fill_contiguous_strides(-7, shape, strides, 8, 'C'),
                  PYBUF_STATUS_INVALID_NDIM, "-7");
    CHECK_MESSAGE(pybuf_fill_contiguous_strides(2, shape, strides, 8, 'C'),
                  PYBUF_STATUS_INVALID_SHAPE, "-3");
    shape[1] = 3;
    CHECK_MESSAGE(pybuf_fill_contiguous_strides(2, shape, strides, -42, 'C'),
                  PYBUF_STATUS_INVALID_ITEMSIZE, "-42");
    CHECK_MESSAGE(pybuf_fill_contiguous_strides(2, shape, strides, 8, 'X'),
                  PYBUF_STATUS_INVALID_ARGUMENT, "X");
    CHECK_MESSAGE(pybuf_to_contiguous(mem, &v, 31, 'C'), PYBUF_STATUS_LENGTH_MISMATCH, "31");
    CHECK_MESSAGE(pybuf_fill_info(&v, NULL, mem, 8, 7, PYBUF_SIMPLE),
                  PYBUF_STATUS_INVALID_ARGUMENT, "7");
    {
        pybuf_ssize_t ix[1] = {17};
        CHECK_PTR_EQ(pybuf_get_pointer(&v, ix), NULL);
        CHECK_LAST(PYBUF_STATUS_INDEX_OUT_OF_RANGE);
        CHECK(strstr(pybuf_last_error(), "17") != NULL);
    }
}

static void success_clears_the_error(void) {
    double mem[4];
    pybuf_ssize_t shape[1] = {4}, strides[1];
    pybuf_buffer v = make_view(mem, 8, 1, shape, NULL, NULL);
    pybuf_ssize_t ix[1] = {1};
    /* after every kind of successful call */
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_fill_contiguous_strides(1, shape, strides, 8, 'C'), PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK_LAST(PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    CHECK_PTR_EQ(pybuf_get_pointer(&v, ix), &mem[1]);
    CHECK_LAST(PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_copy(&v, &v), PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_to_contiguous(mem, &v, 32, 'C'), PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_from_contiguous(&v, mem, 32, 'C'), PYBUF_STATUS_OK);
    {
        pybuf_buffer f;
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_fill_info(&f, NULL, mem, 32, 0, PYBUF_FULL), PYBUF_STATUS_OK);
        PROVOKE_ERROR();
        pybuf_release(&f);
        CHECK_LAST(PYBUF_STATUS_OK);
    }
    /* and a new failure replaces an old one */
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_copy(NULL, &v), PYBUF_STATUS_NULL_POINTER);
}

struct thread_result {
    int initial_status;
    int initial_message_empty;
    int status_after;
    int message_mentions_ndim;
};

static void *thread_main(void *arg) {
    struct thread_result *r = (struct thread_result *)arg;
    const char *msg = pybuf_last_error();
    r->initial_status = pybuf_last_status();
    r->initial_message_empty = msg != NULL && msg[0] == '\0';
    pybuf_fill_contiguous_strides(99, NULL, NULL, 8, 'C');
    r->status_after = pybuf_last_status();
    r->message_mentions_ndim = strstr(pybuf_last_error(), "99") != NULL;
    return NULL;
}

static void errors_are_per_thread(void) {
    pthread_t t;
    struct thread_result r;
    pybuf_ssize_t shape[1] = {-5}, strides[1];
    char before[256];
    memset(&r, 0, sizeof r);
    CHECK_STATUS(pybuf_fill_contiguous_strides(1, shape, strides, 8, 'C'),
                 PYBUF_STATUS_INVALID_SHAPE);
    snprintf(before, sizeof before, "%s", pybuf_last_error());
    CHECK_EQ(pthread_create(&t, NULL, thread_main, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* a new thread starts clean and has its own error */
    CHECK_EQ(r.initial_status, PYBUF_STATUS_OK);
    CHECK_EQ(r.initial_message_empty, 1);
    CHECK_EQ(r.status_after, PYBUF_STATUS_INVALID_NDIM);
    CHECK_EQ(r.message_mentions_ndim, 1);
    /* this thread's error is unchanged */
    CHECK_LAST(PYBUF_STATUS_INVALID_SHAPE);
    CHECK_STR_EQ(pybuf_last_error(), before);
}

static void version_macros(void) {
    char s[64];
    CHECK_EQ(PYBUF_VERSION_NUMBER,
             PYBUF_VERSION_MAJOR * 10000 + PYBUF_VERSION_MINOR * 100 + PYBUF_VERSION_PATCH);
    snprintf(s, sizeof s, "%d.%d.%d", PYBUF_VERSION_MAJOR, PYBUF_VERSION_MINOR,
             PYBUF_VERSION_PATCH);
    CHECK_STR_EQ(PYBUF_VERSION_STRING, s);
    CHECK_EQ(PYBUF_MAX_NDIM, 64);
}

int main(void) {
    /* before any failure, the thread's status is OK with an empty message */
    CHECK_LAST(PYBUF_STATUS_OK);
    RUN(status_values_are_fixed);
    RUN(status_names);
    RUN(status_name_does_not_touch_last_error);
    RUN(messages_name_the_value);
    RUN(success_clears_the_error);
    RUN(errors_are_per_thread);
    RUN(version_macros);
    return check_report();
}

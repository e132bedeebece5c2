/*
 * Shared-memory exporters and the hand-over of views between processes (issue 15):
 * pybuf_share_new (anonymous, named, .npy layout), pybuf_share_open, pybuf_share_copy,
 * pybuf_share_seal, pybuf_share_fd, pybuf_share_unlink, pybuf_send_view and
 * pybuf_recv_view over socketpair(AF_UNIX) of SOCK_STREAM and SOCK_SEQPACKET, with fork.
 *
 * The parent sends random derived views (transposed, permuted, sliced with negative steps,
 * indexed) of several formats, structured ones included; a child receives each, compares
 * format, shape, strides and every element with the bytes pybuf_to_contiguous gave in the
 * parent (sent beside it over a pipe), writes a new pattern through its view, and the
 * parent reads that pattern through its own view. Then read-only and sealed hand-overs
 * (the child's views are read-only and its fd cannot be mapped writable), refusals (a
 * named segment without PYBUF_RECV_UNSEALED, an unsealed one with PYBUF_RECV_SEALED,
 * memory that is not shared, suboffsets), empty views, non-blocking sockets (would-block,
 * a full buffer drained message by message), a closed peer, SOCK_DGRAM, views outliving
 * their sender, and a view forwarded through three processes. /proc/self/fd and
 * /proc/self/maps are counted around every case, in the parent and in each child, and
 * every segment's fd is close-on-exec.
 *
 * SIGPIPE keeps its default action: a send that raised it would kill the test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "leaks.h"

/* A child that hangs (a message that never comes) is killed after this many seconds. */
#define CHILD_SECONDS 60
/* Random views handed over per segment. */
#define VIEWS_PER_SEGMENT 6

/* What a failed receive must leave in *out. */
static char sentinel_;
#define SENTINEL ((pybuf_exporter *)(void *)&sentinel_)

/* The maps lines of every pybuf segment: anonymous ones are "/memfd:<name> (deleted)",
   the test's named ones "/dev/shm/pybuf-test-share-<pid>-<k>". */
#define MEMFD_MAPS "/memfd:"
#define SHM_MAPS "/dev/shm/pybuf-test-share-"

/* ------------------------------------------------------------------ helpers */

static uint64_t rng_ = 0x9E3779B97F4A7C15ull;

/* A pseudo-random number below n (0 when n is 0); the same sequence every run. */
static unsigned rnd(unsigned n) {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return n ? (unsigned)(rng_ % n) : 0;
}

/* Deterministic bytes: the pattern `seed`. */
static void pattern(unsigned char *b, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131u + seed * 7u + (i >> 8) + 1u);
}

static unsigned char *pattern_new(size_t n, unsigned seed) {
    unsigned char *b = malloc(n + 1);
    CHECK(b != NULL);
    pattern(b, n, seed);
    return b;
}

/* All n bytes through read(2) or write(2): 0, or -1 at an error or the end. */
static int transfer(int fd, void *p, size_t n, int writing) {
    char *c = p;
    while (n > 0) {
        ssize_t k = writing ? write(fd, c, n) : read(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n) {
    return transfer(fd, (void *)p, n, 1);
}

static int read_all(int fd, void *p, size_t n) {
    return transfer(fd, p, n, 0);
}

static void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    CHECK(flags >= 0);
    CHECK_EQ(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

static void socket_pair(int type, int sv[2]) {
    CHECK_EQ(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(int sv[2]) {
    close(sv[0]);
    close(sv[1]);
}

/* The bytes of v in C order (malloc'ed). */
static unsigned char *contiguous(const pybuf_buffer *v) {
    unsigned char *b = malloc((size_t)v->len + 1);
    CHECK(b != NULL);
    CHECK_STATUS(pybuf_to_contiguous(b, v, v->len, 'C'), PYBUF_STATUS_OK);
    return b;
}

/* Write the pattern `seed` through v, in C order. */
static void fill(const pybuf_buffer *v, unsigned seed) {
    unsigned char *b = pattern_new((size_t)v->len, seed);
    CHECK_STATUS(pybuf_from_contiguous(v, b, v->len, 'C'), PYBUF_STATUS_OK);
    free(b);
}

/* v holds the pattern `seed`, in C order. */
static void check_pattern(const pybuf_buffer *v, unsigned seed) {
    unsigned char *want = pattern_new((size_t)v->len, seed), *got = contiguous(v);
    CHECK_MEM_EQ(got, want, v->len);
    free(got);
    free(want);
}

/* Counts of what a case may leave behind: fds, and mappings of segments. */
struct counts {
    int fds, memfds, shm;
};

static struct counts counts_now(void) {
    struct counts c;
    c.fds = count_fds();
    c.memfds = count_maps(MEMFD_MAPS);
    c.shm = count_maps(SHM_MAPS);
    return c;
}

#define CHECK_COUNTS(before)                                                               \
    do {                                                                                   \
        struct counts counts_after_ = counts_now();                                        \
        CHECK_EQ(counts_after_.fds, (before).fds);                                         \
        CHECK_EQ(counts_after_.memfds, (before).memfds);                                   \
        CHECK_EQ(counts_after_.shm, (before).shm);                                         \
    } while (0)

/* ------------------------------------------------------------------ segments */

enum kind { ANON, NAMED, NPY };

/* A unique segment name (no leading "/": pybuf adds it, as Python does). */
static const char *seg_name(int k) {
    static char names[4][64];
    char *n = names[k % 4];
    snprintf(n, sizeof names[0], "pybuf-test-share-%ld-%d", (long)getpid(), k);
    return n;
}

static int shm_exists(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return access(path, F_OK) == 0;
}

static pybuf_exporter_desc array_desc(const char *format, int ndim, const pybuf_ssize_t *shape,
                                      const pybuf_ssize_t *strides) {
    pybuf_exporter_desc d;
    memset(&d, 0, sizeof d);
    d.len = -1;
    d.format = format;
    d.ndim = ndim;
    d.shape = shape;
    d.strides = strides;
    return d;
}

/* The segment's fd is not inherited by programs this process executes. */
static void check_cloexec(pybuf_exporter *e) {
    int fd = -1;
    CHECK_STATUS(pybuf_share_fd(e, &fd), PYBUF_STATUS_OK);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* A new segment of `kind` (name used unless ANON) for a C-contiguous array, filled with the
   pattern `seed`. */
static pybuf_exporter *new_segment(int kind, const char *name, const char *format, int ndim,
                                   const pybuf_ssize_t *shape, unsigned seed) {
    pybuf_exporter_desc d = array_desc(format, ndim, shape, NULL);
    pybuf_exporter *e = NULL;
    pybuf_buffer v;
    CHECK_STATUS(pybuf_share_new(kind == ANON ? NULL : name, &d, kind == NPY ? PYBUF_SHARE_NPY : 0,
                                 &e),
                 PYBUF_STATUS_OK);
    if (e == NULL)
        return NULL;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    fill(&v, seed);
    pybuf_release(&v);
    check_cloexec(e);
    return e;
}

/* ------------------------------------------------------------------ random views */

/* A chain of derived views, each from the one before (released in reverse). */
struct chain {
    pybuf_buffer v[8];
    int n;
};

static pybuf_ssize_t slice_bound(pybuf_ssize_t n) {
    return rnd(4) == 0 ? PYBUF_SLICE_NONE : (pybuf_ssize_t)rnd((unsigned)(2 * n + 3)) - n - 1;
}

/* 1 to 4 random derivations of base (transpose, permute, slice with any step, index);
   returns the last view (base itself if none applied). */
static const pybuf_buffer *derive_random(struct chain *ch, const pybuf_buffer *base) {
    const pybuf_buffer *cur = base;
    int steps = 1 + (int)rnd(4), i;
    ch->n = 0;
    for (i = 0; i < steps; i++) {
        pybuf_buffer *dst = &ch->v[ch->n];
        int nd = cur->ndim, d = (int)rnd((unsigned)nd), rc;
        pybuf_ssize_t n = nd > 0 ? cur->shape[d] : 0;
        if (nd == 0)
            break;
        switch (rnd(4)) {
        case 0:
            rc = pybuf_transpose(dst, cur);
            break;
        case 1: {
            int axes[PYBUF_MAX_NDIM], k;
            for (k = 0; k < nd; k++)
                axes[k] = k;
            for (k = nd - 1; k > 0; k--) {
                int j = (int)rnd((unsigned)k + 1), t = axes[k];
                axes[k] = axes[j];
                axes[j] = t;
            }
            rc = pybuf_permute(dst, cur, axes);
            break;
        }
        case 2: {
            pybuf_ssize_t step = 1 + (pybuf_ssize_t)rnd(3);
            rc = pybuf_slice(dst, cur, d, slice_bound(n), slice_bound(n), rnd(2) ? -step : step);
            break;
        }
        default:
            /* an index, down to 0-d now and then */
            if (n == 0 || (nd == 1 && rnd(3) != 0))
                continue;
            rc = pybuf_index(dst, cur, d, rnd(2) ? (pybuf_ssize_t)rnd((unsigned)n)
                                                  : -1 - (pybuf_ssize_t)rnd((unsigned)n));
            break;
        }
        CHECK_EQ(rc, PYBUF_STATUS_OK);
        if (rc == PYBUF_STATUS_OK) {
            ch->n++;
            cur = dst;
        }
    }
    return cur;
}

static void chain_release(struct chain *ch) {
    while (ch->n > 0)
        pybuf_release(&ch->v[--ch->n]);
}

/* ------------------------------------------------------------------ expectations */

/* What a receiver must get: sent over a pipe beside each message, then x.len bytes (the
   sent view's elements in C order). */
struct expect {
    int recv_flags;        /* pybuf_recv_view's flags */
    int status;            /* its expected result */
    int readonly;          /* the received view is read-only */
    int ro_fd;             /* ... and so is the fd: no writable mapping of it is possible */
    int check_strides;     /* strides as sent (not after PYBUF_SEND_COPY) */
    unsigned write_seed;   /* nonzero: write pattern(write_seed) through the received view */
    int sent;              /* the message was sent (else the receiver skips it) */
    int ndim;
    pybuf_ssize_t itemsize, len;
    pybuf_ssize_t shape[PYBUF_MAX_NDIM], strides[PYBUF_MAX_NDIM];
    char format[128];
};

static struct expect expect_ok(int recv_flags, unsigned write_seed) {
    struct expect x;
    memset(&x, 0, sizeof x);
    x.recv_flags = recv_flags;
    x.check_strides = 1;
    x.write_seed = write_seed;
    return x;
}

static struct expect expect_read_only(int recv_flags, int ro_fd) {
    struct expect x = expect_ok(recv_flags, 0);
    x.readonly = 1;
    x.ro_fd = ro_fd;
    return x;
}

static struct expect expect_refused(int recv_flags, int status) {
    struct expect x = expect_ok(recv_flags, 0);
    x.status = status;
    return x;
}

/* The geometry of v into x. */
static void describe(struct expect *x, const pybuf_buffer *v) {
    x->ndim = v->ndim;
    x->itemsize = v->itemsize;
    x->len = v->len;
    if (v->ndim > 0) {
        memcpy(x->shape, v->shape, sizeof(pybuf_ssize_t) * (size_t)v->ndim);
        if (v->strides != NULL)
            memcpy(x->strides, v->strides, sizeof(pybuf_ssize_t) * (size_t)v->ndim);
        else
            pybuf_fill_contiguous_strides(v->ndim, v->shape, x->strides, v->itemsize, 'C');
    }
    snprintf(x->format, sizeof x->format, "%s", v->format ? v->format : "B");
}

/* The received exporter's fd is open read-only, and the page of v's element 0 cannot be
   made writable. */
static void check_fd_read_only(pybuf_exporter *e, const pybuf_buffer *v) {
    int fd = -1;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    CHECK_STATUS(pybuf_share_fd(e, &fd), PYBUF_STATUS_OK);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    if (v->len > 0) {
        void *p = (void *)((uintptr_t)v->buf & ~(page - 1));
        errno = 0;
        CHECK_EQ(mprotect(p, page, PROT_READ | PROT_WRITE), -1);
        CHECK_EQ(errno, EACCES);
    }
}

/* A view of e, as x says, holding `bytes`; then the read-only checks or the write. */
static void check_received(pybuf_exporter *e, const struct expect *x, const unsigned char *bytes) {
    pybuf_buffer v, w;
    unsigned char *got;
    int k;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(v.ndim, x->ndim);
    CHECK_EQ(v.itemsize, x->itemsize);
    CHECK_EQ(v.len, x->len);
    CHECK_EQ(v.readonly, x->readonly);
    CHECK_STR_EQ(v.format, x->format);
    CHECK(v.suboffsets == NULL);
    if (v.ndim != x->ndim || v.len != x->len) {
        pybuf_release(&v);
        return;
    }
    for (k = 0; k < v.ndim; k++) {
        CHECK_EQ(v.shape[k], x->shape[k]);
        if (x->check_strides)
            CHECK_EQ(v.strides[k], x->strides[k]);
    }
    got = contiguous(&v);
    CHECK_MEM_EQ(got, bytes, x->len);
    free(got);
    check_cloexec(e);
    if (x->readonly) {
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
        if (x->ro_fd)
            check_fd_read_only(e, &v);
    }
    if (x->write_seed != 0) {
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_FULL), PYBUF_STATUS_OK);
        fill(&w, x->write_seed);
        pybuf_release(&w);
    }
    pybuf_release(&v);
}

/* ------------------------------------------------------------------ children */

/* Fork a child that runs fn(arg) and exits 0 if all its checks passed. */
static pid_t fork_child(void (*fn)(void *), void *arg) {
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        check_failed_ = 0;
        alarm(CHILD_SECONDS);
        fn(arg);
        _exit(check_failed_ ? 1 : 0);
    }
    return pid;
}

static void reap(pid_t pid) {
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "  child %ld: %s %d\n", (long)pid,
                WIFSIGNALED(st) ? "killed by signal" : "exit status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* A receiving child and the parent's ends of its socket and pipes. */
struct child {
    pid_t pid;
    int sock; /* the parent's end of the socket pair */
    int down; /* parent -> child: one struct expect and its bytes per message */
    int up;   /* child -> parent: one byte per message handled */
    int child_ends[3], parent_ends[3];
};

/* The receiving child: for each expectation, one pybuf_recv_view, checked. */
static void receiver_main(void *arg) {
    struct child *c = arg;
    struct counts before;
    struct expect x;
    int k;
    for (k = 0; k < 3; k++)
        close(c->parent_ends[k]);
    before = counts_now();
    while (read_all(c->child_ends[1], &x, sizeof x) == 0) {
        unsigned char *bytes = malloc((size_t)x.len + 1), ack = 1;
        pybuf_exporter *e = SENTINEL;
        CHECK(bytes != NULL);
        CHECK_EQ(read_all(c->child_ends[1], bytes, (size_t)x.len), 0);
        if (!x.sent) {
            free(bytes);
            CHECK_EQ(write_all(c->child_ends[2], &ack, 1), 0);
            continue;
        }
        CHECK_STATUS(pybuf_recv_view(c->child_ends[0], x.recv_flags, &e), x.status);
        if (x.status == PYBUF_STATUS_OK) {
            if (e != SENTINEL && e != NULL)
                check_received(e, &x, bytes);
            pybuf_exporter_free(e == SENTINEL ? NULL : e);
        } else {
            CHECK_PTR_EQ(e, SENTINEL);
        }
        free(bytes);
        CHECK_EQ(write_all(c->child_ends[2], &ack, 1), 0);
    }
    CHECK_COUNTS(before);
    for (k = 0; k < 3; k++)
        close(c->child_ends[k]);
}

static struct child spawn_receiver(int type) {
    struct child c;
    int sv[2], down[2], up[2];
    socket_pair(type, sv);
    CHECK_EQ(pipe2(down, O_CLOEXEC), 0);
    CHECK_EQ(pipe2(up, O_CLOEXEC), 0);
    c.child_ends[0] = sv[1];
    c.child_ends[1] = down[0];
    c.child_ends[2] = up[1];
    c.parent_ends[0] = c.sock = sv[0];
    c.parent_ends[1] = c.down = down[1];
    c.parent_ends[2] = c.up = up[0];
    c.pid = fork_child(receiver_main, &c);
    close(sv[1]);
    close(down[0]);
    close(up[1]);
    return c;
}

/* Close the parent's ends (the child's loop ends) and wait for the child. */
static void finish(struct child *c) {
    close(c->sock);
    close(c->down);
    close(c->up);
    reap(c->pid);
}

/* Send v to the child with send_flags; the child expects *x (v's geometry is filled in
   here) and v's elements. Waits until the child has handled it. */
static void hand_over(struct child *c, const pybuf_buffer *v, int send_flags, struct expect *x) {
    unsigned char *bytes = contiguous(v), ack = 0;
    describe(x, v);
    CHECK_STATUS(pybuf_send_view(c->sock, v, send_flags), PYBUF_STATUS_OK);
    x->sent = pybuf_last_status() == PYBUF_STATUS_OK; /* else the child does not wait for it */
    CHECK_EQ(write_all(c->down, x, sizeof *x), 0);
    CHECK_EQ(write_all(c->down, bytes, (size_t)x->len), 0);
    CHECK_EQ(read_all(c->up, &ack, 1), 0);
    free(bytes);
}

/* ------------------------------------------------------------------ cases */

static const char *const formats[] = {
    "<d", "<h", "3s", "B", ">i", "T{i:a:h:b:}", "T{d:x:i:y:i:z:}",
    "T{b:a:(2,3)<d:m:T{<h:p:}:s:3x}",
};
/* Formats a .npy header can describe. */
static const char *const npy_formats[] = {"<d", "<h", "3s", "T{<i:a:<d:b:}"};

/* Segments of every kind and format, random views of each, handed to a child that checks
   them and writes a pattern the parent then reads through its own view. */
static void random_handovers(int type) {
    struct counts before = counts_now();
    struct child c = spawn_receiver(type);
    unsigned seed = 1;
    int kind, f, r, k, name_k = 100 * type;
    for (kind = ANON; kind <= NPY; kind++) {
        int nformats = kind == NPY ? (int)(sizeof npy_formats / sizeof *npy_formats)
                                   : (int)(sizeof formats / sizeof *formats);
        for (f = 0; f < nformats; f++) {
            const char *format = kind == NPY ? npy_formats[f] : formats[f];
            const char *name = seg_name(name_k++);
            pybuf_ssize_t shape[4];
            int ndim = 1 + (int)rnd(4);
            pybuf_exporter *e;
            pybuf_buffer base;
            for (k = 0; k < ndim; k++)
                shape[k] = 1 + (pybuf_ssize_t)rnd(6);
            e = new_segment(kind, name, format, ndim, shape, seed++);
            if (e == NULL)
                continue;
            CHECK_STATUS(pybuf_exporter_get_buffer(e, &base, PYBUF_FULL), PYBUF_STATUS_OK);
            for (r = 0; r < VIEWS_PER_SEGMENT; r++) {
                struct chain ch;
                const pybuf_buffer *v = derive_random(&ch, &base);
                struct expect x = expect_ok(kind == ANON ? 0 : PYBUF_RECV_UNSEALED, seed++);
                hand_over(&c, v, 0, &x);
                check_pattern(v, x.write_seed);
                chain_release(&ch);
            }
            pybuf_release(&base);
            pybuf_exporter_free(e);
            if (kind != ANON) {
                CHECK(shm_exists(name));
                CHECK_STATUS(pybuf_share_unlink(name), PYBUF_STATUS_OK);
                CHECK(!shm_exists(name));
            }
        }
    }
    finish(&c);
    CHECK_COUNTS(before);
}

static void random_handovers_stream(void) {
    random_handovers(SOCK_STREAM);
}

static void random_handovers_seqpacket(void) {
    random_handovers(SOCK_SEQPACKET);
}

/* Empty views: a slice to nothing has no bytes, but it arrives with its shape, strides
   and format. An empty slice with a negative step has its buf one step before element
   0, outside the segment (as CPython's memoryview does): it travels with a new one-byte
   segment. */
static void empty_views(int type) {
    struct counts before = counts_now();
    struct child c = spawn_receiver(type);
    pybuf_ssize_t shape[2] = {4, 5};
    pybuf_exporter *e = new_segment(ANON, NULL, "<d", 2, shape, 29);
    pybuf_buffer v, rev, empty[5];
    struct expect x;
    int k;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&rev, &v, 0, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&empty[0], &v, 0, 2, 2, 1), PYBUF_STATUS_OK);   /* v[2:2] */
    CHECK_STATUS(pybuf_slice(&empty[1], &v, 1, 5, 5, 1), PYBUF_STATUS_OK);   /* v[:, 5:5] */
    CHECK_STATUS(pybuf_slice(&empty[2], &v, 0, 4, 4, 1), PYBUF_STATUS_OK);   /* v[4:4]: buf at the end */
    CHECK_STATUS(pybuf_slice(&empty[3], &v, 0, -10, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK); /* v[-10::-1] */
    CHECK_STATUS(pybuf_slice(&empty[4], &rev, 0, 4, PYBUF_SLICE_NONE, 1), PYBUF_STATUS_OK); /* v[::-1][4:] */
    CHECK_PTR_EQ(empty[3].buf, (char *)v.buf - 40); /* one row before the segment */
    CHECK_PTR_EQ(empty[4].buf, (char *)v.buf - 40);
    for (k = 0; k < 5; k++) {
        int failed = check_failed_;
        check_failed_ = 0;
        CHECK_EQ(empty[k].len, 0);
        x = expect_ok(0, 0);
        hand_over(&c, &empty[k], 0, &x);
        if (check_failed_)
            fprintf(stderr, "  empty view %d (buf at segment %+td)\n", k,
                    (char *)empty[k].buf - (char *)v.buf);
        check_failed_ |= failed;
    }
    finish(&c);
    for (k = 0; k < 5; k++)
        pybuf_release(&empty[k]);
    pybuf_release(&rev);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_COUNTS(before);
}

static void empty_views_stream(void) {
    empty_views(SOCK_STREAM);
}

static void empty_views_seqpacket(void) {
    empty_views(SOCK_SEQPACKET);
}

/* Anonymous and named segments themselves: zero-filled, sized for a strided description,
   sealed against resizing (anonymous), mode 0600 and "/"-insensitive names (named). */
static void segments(void) {
    struct counts before = counts_now();
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {-32, 8};
    pybuf_exporter_desc d = array_desc("<q", 2, shape, strides);
    pybuf_exporter *e = NULL, *n = NULL, *again = SENTINEL;
    pybuf_buffer v;
    const char *name = seg_name(1);
    char slashed[80];
    unsigned char raw[96], *bytes;
    struct stat st;
    int fd = -1, i, j;

    /* Rows last to first: element [i][j] at byte 64 - 32 i + 8 j of the segment. */
    d.offset = 64;
    CHECK_STATUS(pybuf_share_new(NULL, &d, 0, &e), PYBUF_STATUS_OK);
    CHECK_EQ(count_maps(MEMFD_MAPS), before.memfds + 1);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(v.strides[0], -32);
    bytes = contiguous(&v);
    memset(raw, 0, sizeof raw);
    CHECK_MEM_EQ(bytes, raw, 96); /* zero-filled */
    free(bytes);
    fill(&v, 5);
    CHECK_STATUS(pybuf_share_fd(e, &fd), PYBUF_STATUS_OK);
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK(st.st_size >= 96);
    CHECK_EQ(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
    CHECK_EQ(ftruncate(fd, 4096), -1); /* growing is sealed too */
    CHECK_EQ(pread(fd, raw, sizeof raw, 0), 96);
    bytes = pattern_new(96, 5);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            CHECK_MEM_EQ(raw + 64 - 32 * i + 8 * j, bytes + 8 * (4 * i + j), 8);
    free(bytes);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(MEMFD_MAPS), before.memfds);

    /* Named: /dev/shm/<name>, mode 0600; "/name" is the same segment. */
    d = array_desc("<d", 2, shape, NULL);
    CHECK_STATUS(pybuf_share_new(name, &d, 0, &n), PYBUF_STATUS_OK);
    snprintf(slashed, sizeof slashed, "/dev/shm/%s", name);
    CHECK_EQ(stat(slashed, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK(st.st_size >= 96);
    snprintf(slashed, sizeof slashed, "/%s", name);
    CHECK_STATUS(pybuf_share_new(slashed, &d, 0, &again), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EEXIST);
    CHECK_PTR_EQ(again, SENTINEL);
    CHECK_STATUS(pybuf_share_seal(n), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_share_unlink(slashed), PYBUF_STATUS_OK);
    CHECK(!shm_exists(name));
    /* still mapped and usable after the unlink */
    CHECK_EQ(count_maps(SHM_MAPS), before.shm + 1);
    CHECK_STATUS(pybuf_exporter_get_buffer(n, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    fill(&v, 6);
    check_pattern(&v, 6);
    pybuf_release(&v);
    pybuf_exporter_free(n);
    CHECK_STATUS(pybuf_share_unlink(name), PYBUF_STATUS_IO); /* gone already */
    CHECK_EQ(pybuf_last_errno(), ENOENT);
    CHECK_COUNTS(before);
}

/* The .npy layout: magic, a header naming the array, data at a 64-byte aligned offset;
   pybuf_share_open reads the layout back, or takes one described by hand. */
static void npy_layout(void) {
    struct counts before = counts_now();
    pybuf_ssize_t shape[2] = {5, 7}, bytes_shape[1];
    const char *name = seg_name(2);
    pybuf_exporter *e = new_segment(NPY, name, "<d", 2, shape, 9), *o = NULL, *r = NULL, *b = NULL;
    pybuf_exporter_desc d;
    pybuf_buffer v, ov, rv, w, bv;
    unsigned char head[10], *data;
    long data_at;
    int fd = -1;
    if (e == NULL)
        return;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_fd(e, &fd), PYBUF_STATUS_OK);
    CHECK_EQ(pread(fd, head, sizeof head, 0), 10);
    CHECK_MEM_EQ(head, "\x93NUMPY", 6);
    data_at = 10 + head[8] + 256L * head[9]; /* version 1.0: a 2-byte header length */
    CHECK_EQ(head[6], 1);
    CHECK_EQ(data_at % 64, 0);
    data = malloc(8 * 35);
    CHECK_EQ(pread(fd, data, 8 * 35, data_at), 8 * 35);
    check_pattern(&v, 9);
    bytes_shape[0] = 8 * 35;
    CHECK_MEM_EQ(data, v.buf, 8 * 35);

    /* Opened by name from the .npy header. */
    CHECK_STATUS(pybuf_share_open(name, NULL, PYBUF_SHARE_NPY, &o), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(o, &ov, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(ov.ndim, 2);
    CHECK_EQ(ov.shape[0], 5);
    CHECK_EQ(ov.shape[1], 7);
    CHECK_EQ(ov.itemsize, 8);
    CHECK_STR_EQ(ov.format, "<d");
    fill(&v, 10); /* the same memory */
    check_pattern(&ov, 10);

    /* Read-only, and as raw bytes described by hand. */
    CHECK_STATUS(pybuf_share_open(name, NULL, PYBUF_SHARE_NPY | PYBUF_SHARE_READONLY, &r),
                 PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(r, &w, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
    CHECK_STATUS(pybuf_exporter_get_buffer(r, &rv, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(rv.readonly, 1);
    check_pattern(&rv, 10);
    d = array_desc("B", 1, bytes_shape, NULL);
    d.offset = data_at;
    CHECK_STATUS(pybuf_share_open(name, &d, 0, &b), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(b, &bv, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_MEM_EQ(bv.buf, v.buf, 8 * 35);

    CHECK_STATUS(pybuf_share_unlink(name), PYBUF_STATUS_OK);
    CHECK_EQ(count_maps(SHM_MAPS), before.shm + 4);
    pybuf_release(&bv);
    pybuf_release(&rv);
    pybuf_release(&ov);
    pybuf_release(&v);
    pybuf_exporter_free(b);
    pybuf_exporter_free(r);
    pybuf_exporter_free(o);
    pybuf_exporter_free(e);
    free(data);
    CHECK_COUNTS(before);
}

/* Read-only hand-overs: PYBUF_SEND_READONLY, a view with readonly = 1, a segment opened
   read-only (each with a read-only fd), and PYBUF_RECV_READONLY on the receiver. */
static void read_only_handover(int type) {
    struct counts before = counts_now();
    struct child c = spawn_receiver(type);
    pybuf_ssize_t shape[2] = {6, 5};
    const char *name = seg_name(3 + 10 * type);
    pybuf_exporter *e = new_segment(ANON, NULL, "<d", 2, shape, 11), *ro = NULL;
    pybuf_exporter *n = new_segment(NAMED, name, "<h", 2, shape, 12);
    pybuf_buffer base, t, flagged, rv;
    struct expect x;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &base, PYBUF_FULL), PYBUF_STATUS_OK);

    x = expect_read_only(0, 1);
    hand_over(&c, &base, PYBUF_SEND_READONLY, &x);
    CHECK_EQ(base.readonly, 0); /* the sender's own view stays writable */

    CHECK_STATUS(pybuf_transpose(&t, &base), PYBUF_STATUS_OK);
    flagged = t; /* a copy that only pybuf_send_view reads */
    flagged.readonly = 1;
    x = expect_read_only(0, 1);
    hand_over(&c, &flagged, 0, &x);

    x = expect_read_only(PYBUF_RECV_READONLY, 0);
    hand_over(&c, &t, 0, &x);

    {
        pybuf_exporter_desc d = array_desc("<h", 2, shape, NULL);
        CHECK_STATUS(pybuf_share_open(name, &d, PYBUF_SHARE_READONLY, &ro), PYBUF_STATUS_OK);
    }
    CHECK_STATUS(pybuf_exporter_get_buffer(ro, &rv, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    x = expect_read_only(PYBUF_RECV_UNSEALED, 1);
    hand_over(&c, &rv, 0, &x);

    finish(&c);
    pybuf_release(&rv);
    pybuf_release(&t);
    pybuf_release(&base);
    pybuf_exporter_free(ro);
    pybuf_exporter_free(n);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_share_unlink(name), PYBUF_STATUS_OK);
    CHECK_COUNTS(before);
}

static void read_only_handover_stream(void) {
    read_only_handover(SOCK_STREAM);
}

static void read_only_handover_seqpacket(void) {
    read_only_handover(SOCK_SEQPACKET);
}

/* Sealing: refused while a view (even only a derived one) is alive; afterwards the
   segment is read-only for good and the receiver may require the seal. A receiver that
   requires it refuses an unsealed segment, and one without PYBUF_RECV_UNSEALED refuses a
   named segment. */
static void sealed_handover(int type) {
    struct counts before = counts_now();
    struct child c = spawn_receiver(type);
    pybuf_ssize_t shape[2] = {4, 3};
    const char *name = seg_name(4 + 10 * type);
    pybuf_exporter *e = new_segment(ANON, NULL, "T{i:a:h:b:}", 2, shape, 13);
    pybuf_exporter *u = new_segment(ANON, NULL, "<d", 2, shape, 14);
    pybuf_exporter *n = new_segment(NAMED, name, "<d", 2, shape, 15);
    pybuf_buffer v, rev, w, uv, nv;
    struct expect x;
    int fd = -1;

    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&rev, &v, 0, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_seal(e), PYBUF_STATUS_EXPORTS_EXIST);
    pybuf_release(&v);
    CHECK_STATUS(pybuf_share_seal(e), PYBUF_STATUS_EXPORTS_EXIST); /* the derived view */
    pybuf_release(&rev);
    CHECK_STATUS(pybuf_share_seal(e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_fd(e, &fd), PYBUF_STATUS_OK);
    CHECK(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(v.readonly, 1);
    check_pattern(&v, 13);

    x = expect_read_only(PYBUF_RECV_SEALED, 1);
    hand_over(&c, &v, 0, &x);
    CHECK_STATUS(pybuf_slice(&rev, &v, 1, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -2), PYBUF_STATUS_OK);
    x = expect_read_only(PYBUF_RECV_SEALED, 1);
    hand_over(&c, &rev, 0, &x);

    /* Unsealed, with PYBUF_RECV_SEALED: refused (the message is consumed). */
    CHECK_STATUS(pybuf_exporter_get_buffer(u, &uv, PYBUF_FULL), PYBUF_STATUS_OK);
    x = expect_refused(PYBUF_RECV_SEALED, PYBUF_STATUS_INVALID_MESSAGE);
    hand_over(&c, &uv, 0, &x);
    x = expect_refused(PYBUF_RECV_SEALED, PYBUF_STATUS_INVALID_MESSAGE);
    hand_over(&c, &uv, PYBUF_SEND_READONLY, &x);
    /* Named: without PYBUF_RECV_UNSEALED refused, with it accepted. */
    CHECK_STATUS(pybuf_exporter_get_buffer(n, &nv, PYBUF_FULL), PYBUF_STATUS_OK);
    x = expect_refused(0, PYBUF_STATUS_INVALID_MESSAGE);
    hand_over(&c, &nv, 0, &x);
    x = expect_refused(PYBUF_RECV_SEALED | PYBUF_RECV_UNSEALED, PYBUF_STATUS_INVALID_MESSAGE);
    hand_over(&c, &nv, 0, &x);
    x = expect_ok(PYBUF_RECV_UNSEALED, 16);
    hand_over(&c, &nv, 0, &x);
    check_pattern(&nv, 16);
    /* and the stream is still in step: the unsealed anonymous one goes through */
    x = expect_ok(0, 17);
    hand_over(&c, &uv, 0, &x);
    check_pattern(&uv, 17);

    finish(&c);
    pybuf_release(&nv);
    pybuf_release(&uv);
    pybuf_release(&rev);
    pybuf_release(&v);
    pybuf_exporter_free(n);
    pybuf_exporter_free(u);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_share_unlink(name), PYBUF_STATUS_OK);
    CHECK_COUNTS(before);
}

static void sealed_handover_stream(void) {
    sealed_handover(SOCK_STREAM);
}

static void sealed_handover_seqpacket(void) {
    sealed_handover(SOCK_SEQPACKET);
}

/* Memory not in a shared segment is refused (nothing sent), and goes as a copy with
   PYBUF_SEND_COPY; so do suboffsets. */
static void not_shared(int type) {
    struct counts before = counts_now();
    struct child c = spawn_receiver(type);
    double m[4][6];
    pybuf_ssize_t shape[2] = {4, 6}, seg_shape[1] = {4 * 8 + 4 * 6 * 8}, sub[2] = {0, -1};
    pybuf_ssize_t sub_strides[2] = {8, 8}, big[2] = {4, 6000};
    pybuf_exporter_desc d = array_desc("d", 2, shape, NULL);
    pybuf_exporter *s = new_segment(ANON, NULL, "B", 1, seg_shape, 0);
    pybuf_buffer v, t, sv, seg, fake;
    unsigned char before_bytes[sizeof m];
    struct expect x;
    int i;

    pattern((unsigned char *)m, sizeof m, 18);
    d.buf = m;
    d.len = sizeof m;
    CHECK_STATUS(pybuf_fill_view(&v, &d, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_transpose(&t, &v), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_send_view(c.sock, &t, 0), PYBUF_STATUS_NOT_SHARED);
    CHECK_STATUS(pybuf_send_view(c.sock, &v, PYBUF_SEND_READONLY), PYBUF_STATUS_NOT_SHARED);
    memcpy(before_bytes, m, sizeof m);
    x = expect_ok(0, 19);
    x.check_strides = 0;
    hand_over(&c, &t, PYBUF_SEND_COPY, &x);
    CHECK_MEM_EQ(m, before_bytes, sizeof m); /* the child wrote its copy */
    x = expect_read_only(0, 1);
    x.check_strides = 0;
    hand_over(&c, &t, PYBUF_SEND_COPY | PYBUF_SEND_READONLY, &x);

    /* PIL-style: 4 row pointers, then the rows, all in the segment. */
    CHECK_STATUS(pybuf_exporter_get_buffer(s, &seg, PYBUF_FULL), PYBUF_STATUS_OK);
    for (i = 0; i < 4; i++) {
        char *row = (char *)seg.buf + 32 + 48 * i;
        memcpy((char *)seg.buf + 8 * i, &row, sizeof row);
    }
    d.buf = seg.buf;
    d.len = seg.len;
    d.strides = sub_strides;
    d.suboffsets = sub;
    CHECK_STATUS(pybuf_fill_view(&sv, &d, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_send_view(c.sock, &sv, 0), PYBUF_STATUS_INVALID_SUBOFFSETS);
    x = expect_ok(0, 20);
    x.check_strides = 0;
    hand_over(&c, &sv, PYBUF_SEND_COPY, &x);

    /* A view that starts in the segment but reaches past its end. */
    fake = seg;
    fake.ndim = 2;
    fake.shape = big;
    fake.strides = NULL;
    fake.itemsize = 1;
    fake.len = big[0] * big[1];
    CHECK_STATUS(pybuf_send_view(c.sock, &fake, 0), PYBUF_STATUS_NOT_SHARED);

    /* Still in step after the refusals: a view of the segment goes through. */
    x = expect_ok(0, 21);
    hand_over(&c, &seg, 0, &x);

    finish(&c);
    pybuf_release(&sv);
    pybuf_release(&seg);
    pybuf_release(&t);
    pybuf_release(&v);
    pybuf_exporter_free(s);
    CHECK_COUNTS(before);
}

static void not_shared_stream(void) {
    not_shared(SOCK_STREAM);
}

static void not_shared_seqpacket(void) {
    not_shared(SOCK_SEQPACKET);
}

/* pybuf_share_copy in C, F and A order; pybuf_share_fd of an exporter not shared. */
static void shared_copies(void) {
    struct counts before = counts_now();
    double m[3][5];
    pybuf_ssize_t shape[2] = {3, 5};
    pybuf_exporter_desc d = array_desc("d", 2, shape, NULL);
    pybuf_exporter *plain = NULL, *cc = NULL, *fc = NULL, *ac = NULL, *none = SENTINEL;
    pybuf_buffer v, t, cv, fv, av;
    unsigned char *want, *got;
    int fd = -7;
    pattern((unsigned char *)m, sizeof m, 22);
    d.buf = m;
    d.len = sizeof m;
    CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &plain), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_fd(plain, &fd), PYBUF_STATUS_NOT_SHARED);
    CHECK_EQ(fd, -7);
    CHECK_STATUS(pybuf_exporter_get_buffer(plain, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_transpose(&t, &v), PYBUF_STATUS_OK); /* F-contiguous */
    want = contiguous(&t);
    CHECK_STATUS(pybuf_share_copy(&t, 'C', NULL, 0, &cc), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_copy(&t, 'F', NULL, 0, &fc), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_copy(&t, 'A', NULL, 0, &ac), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_share_copy(&t, 'X', NULL, 0, &none), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_PTR_EQ(none, SENTINEL);
    CHECK_EQ(count_maps(MEMFD_MAPS), before.memfds + 3);
    CHECK_STATUS(pybuf_exporter_get_buffer(cc, &cv, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(fc, &fv, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(ac, &av, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_is_contiguous(&cv, 'C'), 1);
    CHECK_EQ(pybuf_is_contiguous(&fv, 'F'), 1);
    CHECK_EQ(pybuf_is_contiguous(&fv, 'C'), 0);
    CHECK_EQ(pybuf_is_contiguous(&av, 'F'), 1);
    got = contiguous(&cv);
    CHECK_MEM_EQ(got, want, sizeof m);
    free(got);
    got = contiguous(&fv);
    CHECK_MEM_EQ(got, want, sizeof m);
    free(got);
    free(want);
    CHECK_STATUS(pybuf_share_fd(cc, &fd), PYBUF_STATUS_OK);
    CHECK(fd >= 0);
    pybuf_release(&av);
    pybuf_release(&fv);
    pybuf_release(&cv);
    pybuf_release(&t);
    pybuf_release(&v);
    pybuf_exporter_free(ac);
    pybuf_exporter_free(fc);
    pybuf_exporter_free(cc);
    pybuf_exporter_free(plain);
    CHECK_COUNTS(before);
}

/* Non-blocking sockets: nothing there is PYBUF_STATUS_WOULD_BLOCK (and consumes nothing);
   sends until the buffer is full, then every one of them is received. */
static void non_blocking(int type) {
    struct counts before;
    pybuf_ssize_t shape[1] = {16};
    pybuf_exporter *e = new_segment(ANON, NULL, "<h", 1, shape, 23), *r = SENTINEL;
    pybuf_buffer v, rv;
    int sv[2], small = 4096, sent = 0, received = 0, rc;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    before = counts_now();
    socket_pair(type, sv);
    set_nonblocking(sv[0]);
    set_nonblocking(sv[1]);

    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_WOULD_BLOCK);
    CHECK_PTR_EQ(r, SENTINEL);
    CHECK_STATUS(pybuf_send_view(sv[0], &v, 0), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_OK);
    if (r != SENTINEL) {
        CHECK_STATUS(pybuf_exporter_get_buffer(r, &rv, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        check_pattern(&rv, 23);
        pybuf_release(&rv);
        pybuf_exporter_free(r);
    }

    /* A small send buffer: a few dozen messages fill it. */
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    for (;;) {
        rc = pybuf_send_view(sv[0], &v, 0);
        if (rc != PYBUF_STATUS_OK || sent == 100000)
            break;
        sent++;
    }
    CHECK_EQ(rc, PYBUF_STATUS_WOULD_BLOCK);
    CHECK_LAST(PYBUF_STATUS_WOULD_BLOCK);
    CHECK(sent > 0);
    for (;;) {
        r = SENTINEL;
        rc = pybuf_recv_view(sv[1], 0, &r);
        if (rc != PYBUF_STATUS_OK)
            break;
        CHECK_STATUS(pybuf_exporter_get_buffer(r, &rv, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        CHECK_EQ(rv.shape[0], 16);
        CHECK_MEM_EQ(rv.buf, v.buf, 32);
        pybuf_release(&rv);
        pybuf_exporter_free(r);
        received++;
    }
    CHECK_EQ(rc, PYBUF_STATUS_WOULD_BLOCK);
    CHECK_PTR_EQ(r, SENTINEL);
    CHECK_EQ(received, sent);
    /* room again */
    CHECK_STATUS(pybuf_send_view(sv[0], &v, 0), PYBUF_STATUS_OK);
    close_pair(sv);
    CHECK_COUNTS(before);
    pybuf_release(&v);
    pybuf_exporter_free(e);
}

static void non_blocking_stream(void) {
    non_blocking(SOCK_STREAM);
}

static void non_blocking_seqpacket(void) {
    non_blocking(SOCK_SEQPACKET);
}

/* A closed peer: receiving is PYBUF_STATUS_END_OF_FILE, sending PYBUF_STATUS_IO with
   EPIPE and no SIGPIPE. */
static void peer_closed(int type) {
    pybuf_ssize_t shape[1] = {8};
    pybuf_exporter *e = new_segment(ANON, NULL, "B", 1, shape, 24), *r = SENTINEL;
    pybuf_buffer v;
    struct counts before;
    int sv[2];
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    before = counts_now();
    socket_pair(type, sv);
    close(sv[0]);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_END_OF_FILE);
    CHECK_PTR_EQ(r, SENTINEL);
    set_nonblocking(sv[1]);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_END_OF_FILE);
    CHECK_STATUS(pybuf_send_view(sv[1], &v, 0), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EPIPE);
    close(sv[1]);
    CHECK_COUNTS(before);
    pybuf_release(&v);
    pybuf_exporter_free(e);
}

static void peer_closed_stream(void) {
    peer_closed(SOCK_STREAM);
}

static void peer_closed_seqpacket(void) {
    peer_closed(SOCK_SEQPACKET);
}

/* A connected SOCK_DGRAM pair works too (in this process): a transposed view arrives
   transposed, over the same memory. */
static void datagram(void) {
    pybuf_ssize_t shape[2] = {3, 7};
    pybuf_exporter *e = new_segment(ANON, NULL, "<i", 2, shape, 30), *r = SENTINEL;
    pybuf_buffer v, t, rv;
    struct counts before;
    int sv[2];
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_transpose(&t, &v), PYBUF_STATUS_OK);
    before = counts_now();
    socket_pair(SOCK_DGRAM, sv);
    set_nonblocking(sv[1]);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pybuf_send_view(sv[0], &t, 0), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &r), PYBUF_STATUS_OK);
    if (r != SENTINEL) {
        CHECK_STATUS(pybuf_exporter_get_buffer(r, &rv, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(rv.shape[0], 7);
        CHECK_EQ(rv.strides[0], 4);
        CHECK_EQ(rv.strides[1], 28);
        fill(&rv, 31);
        check_pattern(&t, 31);
        pybuf_release(&rv);
        pybuf_exporter_free(r);
    }
    close_pair(sv);
    CHECK_COUNTS(before);
    pybuf_release(&t);
    pybuf_release(&v);
    pybuf_exporter_free(e);
}

/* ------------------------------------------------------------------ lifetimes */

struct sender_args {
    int sock, close_fd;
};

/* A child that sends a transposed view of a new segment, frees everything and exits. */
static void sender_main(void *arg) {
    struct sender_args *a = arg;
    pybuf_ssize_t shape[2] = {7, 9};
    struct counts before;
    pybuf_exporter *e;
    pybuf_buffer v, t;
    close(a->close_fd);
    before = counts_now();
    e = new_segment(ANON, NULL, "<i", 2, shape, 25);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_transpose(&t, &v), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_send_view(a->sock, &t, 0), PYBUF_STATUS_OK);
    pybuf_release(&t);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_COUNTS(before);
    close(a->sock);
}

/* The sender has freed its exporter and exited before the view is even received; the
   receiver's derived view outlives its exporter and its first view, and the segment is
   unmapped with the last view. */
static void lifetimes(int type) {
    struct counts before = counts_now();
    int sv[2], k;
    struct sender_args a;
    pid_t pid;
    pybuf_exporter *r = SENTINEL;
    pybuf_ssize_t shape[2] = {7, 9};
    unsigned char *local = pattern_new(7 * 9 * 4, 25), *want, *got;
    pybuf_exporter_desc d = array_desc("<i", 2, shape, NULL);
    pybuf_buffer lv, lt, lrev, v, rev;

    /* The expected elements, from the same pattern in local memory. */
    d.buf = local;
    d.len = 7 * 9 * 4;
    CHECK_STATUS(pybuf_fill_view(&lv, &d, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_transpose(&lt, &lv), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&lrev, &lt, 1, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);

    socket_pair(type, sv);
    a.sock = sv[1];
    a.close_fd = sv[0];
    pid = fork_child(sender_main, &a);
    close(sv[1]);
    reap(pid);
    CHECK_STATUS(pybuf_recv_view(sv[0], 0, &r), PYBUF_STATUS_OK);
    close(sv[0]);
    if (r != SENTINEL) {
        CHECK_STATUS(pybuf_exporter_get_buffer(r, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(v.ndim, 2);
        CHECK_EQ(v.shape[0], 9);
        CHECK_EQ(v.strides[0], 4);
        CHECK_EQ(v.strides[1], 36);
        CHECK_STATUS(pybuf_slice(&rev, &v, 1, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);
        pybuf_exporter_free(r);
        pybuf_release(&v);
        CHECK_EQ(count_maps(MEMFD_MAPS), before.memfds + 1);
        want = contiguous(&lrev);
        got = contiguous(&rev);
        CHECK_MEM_EQ(got, want, 7 * 9 * 4);
        for (k = 0; k < 7 * 9 * 4; k++)
            got[k] ^= 0xFF;
        CHECK_STATUS(pybuf_from_contiguous(&rev, got, rev.len, 'C'), PYBUF_STATUS_OK);
        free(got);
        free(want);
        pybuf_release(&rev);
    }
    pybuf_release(&lrev);
    pybuf_release(&lt);
    pybuf_release(&lv);
    free(local);
    CHECK_COUNTS(before);
}

static void lifetimes_stream(void) {
    lifetimes(SOCK_STREAM);
}

static void lifetimes_seqpacket(void) {
    lifetimes(SOCK_SEQPACKET);
}

/* A relay child: receive a view from `in`, derive from it (op 0: transpose; 1: dimension 0
   reversed), write the pattern `seed` through it if nonzero, forward it on `out`, exit. */
struct relay {
    int in, out, op;
    unsigned seed;
};

static void relay_main(void *arg) {
    struct relay *r = arg;
    struct counts before = counts_now();
    pybuf_exporter *e = SENTINEL;
    pybuf_buffer v, d;
    CHECK_STATUS(pybuf_recv_view(r->in, 0, &e), PYBUF_STATUS_OK);
    if (e == SENTINEL)
        return;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    if (r->op == 0)
        CHECK_STATUS(pybuf_transpose(&d, &v), PYBUF_STATUS_OK);
    else
        CHECK_STATUS(pybuf_slice(&d, &v, 0, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);
    if (r->seed != 0)
        fill(&d, r->seed);
    CHECK_STATUS(pybuf_send_view(r->out, &d, 0), PYBUF_STATUS_OK);
    pybuf_release(&d);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_COUNTS(before);
}

/* parent -> relay 1 (transposes) -> relay 2 (reverses, writes) -> parent: the view that
   comes back is the parent's view transposed and reversed, over the same memory. */
static void forwarding(int type) {
    struct counts before = counts_now();
    int s1[2], s2[2], s3[2], k;
    struct relay r1, r2;
    pid_t p1, p2;
    pybuf_ssize_t shape[3] = {3, 4, 5};
    pybuf_exporter *e, *back = SENTINEL;
    pybuf_buffer v, sl, t, want, got;
    socket_pair(type, s1);
    socket_pair(type, s2);
    socket_pair(type, s3);
    r1.in = s1[1];
    r1.out = s2[0];
    r1.op = 0;
    r1.seed = 0;
    r2.in = s2[1];
    r2.out = s3[0];
    r2.op = 1;
    r2.seed = 26;
    p1 = fork_child(relay_main, &r1);
    p2 = fork_child(relay_main, &r2);
    close(s1[1]);
    close_pair(s2);
    close(s3[0]);

    e = new_segment(ANON, NULL, "T{<i:a:<h:b:}", 3, shape, 27);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&sl, &v, 2, 4, 0, -2), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_send_view(s1[0], &sl, 0), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_recv_view(s3[1], 0, &back), PYBUF_STATUS_OK);
    reap(p1);
    reap(p2);
    CHECK_STATUS(pybuf_transpose(&t, &sl), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_slice(&want, &t, 0, PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1), PYBUF_STATUS_OK);
    check_pattern(&want, 26); /* relay 2's write, in the parent's memory */
    if (back != SENTINEL) {
        CHECK_STATUS(pybuf_exporter_get_buffer(back, &got, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(got.ndim, 3);
        CHECK_STR_EQ(got.format, "T{<i:a:<h:b:}");
        for (k = 0; k < 3 && got.ndim == 3; k++) {
            CHECK_EQ(got.shape[k], want.shape[k]);
            CHECK_EQ(got.strides[k], want.strides[k]);
        }
        check_pattern(&got, 26);
        fill(&got, 28); /* and back the other way */
        check_pattern(&want, 28);
        pybuf_release(&got);
        pybuf_exporter_free(back);
    }
    close(s1[0]);
    close(s3[1]);
    pybuf_release(&want);
    pybuf_release(&t);
    pybuf_release(&sl);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_COUNTS(before);
}

static void forwarding_stream(void) {
    forwarding(SOCK_STREAM);
}

static void forwarding_seqpacket(void) {
    forwarding(SOCK_SEQPACKET);
}

int main(void) {
    alarm(10 * CHILD_SECONDS);
    RUN(segments);
    RUN(npy_layout);
    RUN(shared_copies);
    RUN(random_handovers_stream);
    RUN(random_handovers_seqpacket);
    RUN(empty_views_stream);
    RUN(empty_views_seqpacket);
    RUN(read_only_handover_stream);
    RUN(read_only_handover_seqpacket);
    RUN(sealed_handover_stream);
    RUN(sealed_handover_seqpacket);
    RUN(not_shared_stream);
    RUN(not_shared_seqpacket);
    RUN(non_blocking_stream);
    RUN(non_blocking_seqpacket);
    RUN(peer_closed_stream);
    RUN(peer_closed_seqpacket);
    RUN(datagram);
    RUN(lifetimes_stream);
    RUN(lifetimes_seqpacket);
    RUN(forwarding_stream);
    RUN(forwarding_seqpacket);
    return check_report();
}

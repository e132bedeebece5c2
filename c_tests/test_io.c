/*
 * Views to and from file descriptors from C: pybuf_write_fd, pybuf_read_fd,
 * pybuf_pwrite_fd, pybuf_pread_fd and the resumable pybuf_io_* on regular files, pipes
 * (with a reader or writer thread) and socket pairs, a single-threaded non-blocking event
 * loop with poll, end of file, and errno reporting (EBADF, EPIPE without SIGPIPE, ESPIPE).
 *
 * The bytes on an fd are compared with pybuf_to_contiguous of the view, and memory after a
 * read with pybuf_from_contiguous into a twin of the destination; small cases also with
 * values written out by hand. SIGPIPE keeps its default action (terminate), so a SIGPIPE
 * raised by a write to a socket would fail the test.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "check.h"
#include "leaks.h"

/* ------------------------------------------------------------------ helpers */

/* A fresh, unlinked temporary file open for reading and writing. */
static int temp_fd(void) {
    const char *dir = getenv("TMPDIR");
    char path[512];
    int fd;
    snprintf(path, sizeof path, "%s/pybuf_test_io_XXXXXX", dir && dir[0] ? dir : "/tmp");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    CHECK(flags >= 0);
    CHECK_EQ(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

/* Read exactly n bytes at offset `at` of a file (pread). */
static void file_bytes(int fd, void *out, size_t n, off_t at) {
    CHECK_EQ(pread(fd, out, n, at), (ssize_t)n);
}

/* Everything left on a pipe or socket up to its end. */
static size_t drain(int fd, unsigned char *out, size_t cap) {
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, out + got, cap - got > 4096 ? 4096 : cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || got + (size_t)n >= cap)
            return got + (n > 0 ? (size_t)n : 0);
        got += (size_t)n;
    }
}

/* The bytes pybuf_to_contiguous gives for `v` in `order` (malloc'ed). */
static unsigned char *contiguous(const pybuf_buffer *v, char order) {
    unsigned char *out = malloc((size_t)v->len + 1);
    CHECK(out != NULL);
    CHECK_STATUS(pybuf_to_contiguous(out, v, v->len, order), PYBUF_STATUS_OK);
    return out;
}

/* A peer thread that reads an fd a few bytes at a time until its end, or writes bytes a
   few at a time and then closes the fd. */
struct peer {
    pthread_t thread;
    int fd;
    unsigned char *bytes;
    size_t len, chunk, moved;
};

static void *reader_main(void *arg) {
    struct peer *p = arg;
    size_t step = 1;
    unsigned char extra;
    while (p->moved < p->len) {
        size_t want = p->len - p->moved < step ? p->len - p->moved : step;
        ssize_t n = read(p->fd, p->bytes + p->moved, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p->moved += (size_t)n;
        step = step % p->chunk + 1;
    }
    /* Then the end: a byte more would be a byte too many. */
    while (read(p->fd, &extra, 1) == 1)
        p->moved++;
    close(p->fd);
    return NULL;
}

static void *writer_main(void *arg) {
    struct peer *p = arg;
    size_t step = 1;
    while (p->moved < p->len) {
        size_t want = p->len - p->moved < step ? p->len - p->moved : step;
        ssize_t n = write(p->fd, p->bytes + p->moved, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p->moved += (size_t)n;
        step = step % p->chunk + 1;
    }
    close(p->fd);
    return NULL;
}

static void peer_start(struct peer *p, void *(*main_fn)(void *), int fd, unsigned char *bytes,
                       size_t len, size_t chunk) {
    p->fd = fd;
    p->bytes = bytes;
    p->len = len;
    p->chunk = chunk;
    p->moved = 0;
    CHECK_EQ(pthread_create(&p->thread, NULL, main_fn, p), 0);
}

/* Fill n bytes with a pattern that depends on seed. */
static void pattern(unsigned char *b, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 131u + seed * 17u + (i >> 8)) & 0xff);
}

/* ------------------------------------------------------------------ a matrix through a file */

/* m[i][j] = 10 i + j as int32, 3 x 4; t its transpose (strides swapped). */
static void matrix_through_a_file(void) {
    int32_t m[3][4], back[4][3], got[12];
    static const int32_t m_c[12] = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};
    static const int32_t m_f[12] = {0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23};
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {16, 4};
    pybuf_ssize_t tshape[2] = {4, 3}, tstrides[2] = {4, 16};
    pybuf_buffer v = make_view(m, 4, 2, shape, strides, NULL);
    pybuf_buffer t = make_view(m, 4, 2, tshape, tstrides, NULL);
    pybuf_buffer b = make_view(back, 4, 2, tshape, NULL, NULL);
    int i, j, fd = temp_fd();
    const char orders[3] = {'C', 'F', 'A'};
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            m[i][j] = 10 * i + j;

    /* At the fd's position: t in 'C' order is m's column-major order. */
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_write_fd(fd, &t, 'C'), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_last_errno(), 0);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 48);
    file_bytes(fd, got, 48, 0);
    CHECK_MEM_EQ(got, m_f, 48);
    /* At an offset, the position untouched: t in 'F' order is m's row-major order. */
    CHECK_STATUS(pybuf_pwrite_fd(fd, &t, 'F', 100), PYBUF_STATUS_OK);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 48);
    file_bytes(fd, got, 48, 100);
    CHECK_MEM_EQ(got, m_c, 48);
    /* 'A' of the F-contiguous t: as it lies (m's memory). */
    CHECK_STATUS(pybuf_pwrite_fd(fd, &t, 'A', 200), PYBUF_STATUS_OK);
    file_bytes(fd, got, 48, 200);
    CHECK_MEM_EQ(got, m_c, 48);
    /* Every order against pybuf_to_contiguous, for m and t. */
    for (i = 0; i < 3; i++) {
        const pybuf_buffer *views[2] = {&v, &t};
        for (j = 0; j < 2; j++) {
            unsigned char *want = contiguous(views[j], orders[i]);
            CHECK_STATUS(pybuf_pwrite_fd(fd, views[j], orders[i], 300), PYBUF_STATUS_OK);
            file_bytes(fd, got, 48, 300);
            CHECK_MEM_EQ(got, want, 48);
            free(want);
        }
    }
    /* Reading back: the transposed stream at 0 into back (4 x 3, C order) is m.T. */
    CHECK_STATUS(pybuf_pread_fd(fd, &b, 'C', 0), PYBUF_STATUS_OK);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 3; j++)
            CHECK_EQ(back[i][j], m[j][i]);
    /* At the position: lseek to 100 (m in C order), read into t in 'F' order: m again. */
    memset(m, 0, sizeof m);
    CHECK_EQ(lseek(fd, 100, SEEK_SET), 100);
    CHECK_STATUS(pybuf_read_fd(fd, &t, 'F'), PYBUF_STATUS_OK);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 148);
    CHECK_MEM_EQ(m, m_c, 48);
    close(fd);
}

/* ------------------------------------------------------------------ pipes with a peer thread */

#define BIG 512 /* BIG x BIG doubles: 2 MiB, 32 pipe buffers */

static void pipe_with_a_peer_thread(void) {
    static double a[BIG][BIG], twin[BIG][2 * BIG], dst[BIG][2 * BIG];
    static unsigned char got[BIG * BIG * 8], incoming[BIG * BIG * 8];
    pybuf_ssize_t shape[2] = {BIG, BIG}, tstrides[2] = {8, BIG * 8};
    pybuf_ssize_t dstrides[2] = {2 * BIG * 8, -16}; /* every other column, reversed */
    pybuf_buffer t, d, tw;
    const char orders[3] = {'C', 'F', 'A'};
    int k;
    pattern((unsigned char *)a, sizeof a, 1);
    t = make_view(a, 8, 2, shape, tstrides, NULL);
    for (k = 0; k < 3; k++) {
        int p[2];
        struct peer peer;
        unsigned char *want = contiguous(&t, orders[k]);
        CHECK_EQ(pipe(p), 0);
        peer_start(&peer, reader_main, p[0], got, sizeof got, 97);
        CHECK_STATUS(pybuf_write_fd(p[1], &t, orders[k]), PYBUF_STATUS_OK);
        close(p[1]);
        CHECK_EQ(pthread_join(peer.thread, NULL), 0);
        CHECK_EQ(peer.moved, t.len);
        CHECK_MEM_EQ(got, want, t.len);
        free(want);

        /* Back: a writer thread, a strided destination with a reversed dimension. */
        pattern(incoming, sizeof incoming, 10 + (unsigned)k);
        pattern((unsigned char *)dst, sizeof dst, 20);
        memcpy(twin, dst, sizeof dst);
        d = make_view(&dst[0][2 * BIG - 2], 8, 2, shape, dstrides, NULL);
        tw = make_view(&twin[0][2 * BIG - 2], 8, 2, shape, dstrides, NULL);
        CHECK_STATUS(pybuf_from_contiguous(&tw, incoming, sizeof incoming, orders[k]),
                     PYBUF_STATUS_OK);
        CHECK_EQ(pipe(p), 0);
        peer_start(&peer, writer_main, p[1], incoming, sizeof incoming, 61);
        CHECK_STATUS(pybuf_read_fd(p[0], &d, orders[k]), PYBUF_STATUS_OK);
        CHECK_EQ(pthread_join(peer.thread, NULL), 0);
        CHECK_MEM_EQ(dst, twin, sizeof dst);
        /* Exactly len bytes were read: the pipe is at its end now. */
        CHECK_EQ(read(p[0], got, 1), 0);
        close(p[0]);
    }
}

/* ------------------------------------------------------------------ a non-blocking event loop */

/* One thread, two non-blocking sockets: a transposed view written to s[0] and read from
   s[1] into a strided destination, each side stepped when poll says it is ready. */
static void nonblocking_event_loop(void) {
    static double a[BIG][BIG], dst[BIG][BIG + 3], twin[BIG][BIG + 3];
    pybuf_ssize_t shape[2] = {BIG, BIG}, tstrides[2] = {8, BIG * 8};
    pybuf_ssize_t dstrides[2] = {(BIG + 3) * 8, 8};
    pybuf_buffer t, d, tw;
    pybuf_io *w = NULL, *r = NULL;
    int s[2], would_block = 0, rounds = 0, wdone = 0, rdone = 0;
    unsigned char *stream;
    pattern((unsigned char *)a, sizeof a, 3);
    pattern((unsigned char *)dst, sizeof dst, 4);
    memcpy(twin, dst, sizeof dst);
    t = make_view(a, 8, 2, shape, tstrides, NULL);
    d = make_view(dst, 8, 2, shape, dstrides, NULL);
    tw = make_view(twin, 8, 2, shape, dstrides, NULL);
    stream = contiguous(&t, 'C');
    CHECK_STATUS(pybuf_from_contiguous(&tw, stream, t.len, 'C'), PYBUF_STATUS_OK);
    free(stream);

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    set_nonblocking(s[0]);
    set_nonblocking(s[1]);
    CHECK_STATUS(pybuf_io_new(s[0], &t, 'C', PYBUF_IO_WRITE, -1, &w), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_io_new(s[1], &d, 'C', PYBUF_IO_READ, -1, &r), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_io_total(w), BIG * BIG * 8);
    CHECK_EQ(pybuf_io_total(r), BIG * BIG * 8);
    CHECK_EQ(pybuf_io_done(w), 0);
    while (!(wdone && rdone) && rounds < 1000000) {
        struct pollfd fds[2] = {{s[0], POLLOUT, 0}, {s[1], POLLIN, 0}};
        int rc;
        ++rounds;
        if (poll(fds, 2, 10000) <= 0) {
            CHECK(!"poll timed out");
            break;
        }
        if (!wdone && (fds[0].revents & POLLOUT)) {
            int64_t before = pybuf_io_done(w);
            rc = pybuf_io_step(w);
            if (rc == PYBUF_STATUS_WOULD_BLOCK) {
                ++would_block;
                CHECK_LAST(PYBUF_STATUS_WOULD_BLOCK);
                CHECK_MSG("step the transfer again");
                CHECK(pybuf_io_done(w) >= before);
            } else {
                CHECK_EQ(rc, PYBUF_STATUS_OK);
                wdone = 1;
            }
        }
        if (!rdone && (fds[1].revents & POLLIN)) {
            rc = pybuf_io_step(r);
            if (rc == PYBUF_STATUS_WOULD_BLOCK) {
                ++would_block;
            } else {
                CHECK_EQ(rc, PYBUF_STATUS_OK);
                rdone = 1;
            }
        }
    }
    CHECK(wdone && rdone);
    CHECK(would_block > 0); /* 2 MiB do not fit a socket's buffers */
    CHECK_EQ(pybuf_io_done(w), BIG * BIG * 8);
    CHECK_EQ(pybuf_io_done(r), BIG * BIG * 8);
    /* Finished transfers step to 0 again and move nothing. */
    CHECK_STATUS(pybuf_io_step(w), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_io_step(r), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_io_done(r), BIG * BIG * 8);
    CHECK_MEM_EQ(dst, twin, sizeof dst);
    pybuf_io_free(w);
    pybuf_io_free(r);
    pybuf_io_free(NULL);
    close(s[0]);
    close(s[1]);
}

/* ------------------------------------------------------------------ end of file */

static void end_of_file(void) {
    /* 8 doubles, every other one of 16; the file holds 20 bytes: 2 whole elements and 4
       bytes of the third. Whole elements stored, the partial one and the rest untouched. */
    GUARDED(double, mem, 16);
    unsigned char bytes[20];
    double want[16];
    pybuf_ssize_t shape[1] = {8}, strides[1] = {16};
    pybuf_buffer v;
    pybuf_io *io = NULL;
    int fd = temp_fd(), p[2], k;
    pattern(bytes, sizeof bytes, 5);
    CHECK_EQ(write(fd, bytes, sizeof bytes), 20);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    GUARD_INIT(mem);
    for (k = 0; k < 16; k++)
        mem[k] = k;
    memcpy(want, mem, sizeof want);
    memcpy(&want[0], bytes, 8);
    memcpy(&want[2], bytes + 8, 8);
    v = make_view(mem, 8, 1, shape, strides, NULL);
    CHECK_STATUS(pybuf_read_fd(fd, &v, 'C'), PYBUF_STATUS_END_OF_FILE);
    CHECK_MSG("after 20 of 64 bytes");
    CHECK_EQ(pybuf_last_errno(), 0);
    CHECK_MEM_EQ(mem, want, sizeof want);
    CHECK_GUARDS(mem);
    /* pread at an offset past the end: 0 bytes. */
    CHECK_STATUS(pybuf_pread_fd(fd, &v, 'F', 1000), PYBUF_STATUS_END_OF_FILE);
    CHECK_MSG("at offset 1000 after 0 of 64 bytes");
    CHECK_MEM_EQ(mem, want, sizeof want);

    /* A resumable read stops at the end, keeps its place, and finishes when the rest is
       appended to the file. */
    for (k = 0; k < 16; k++)
        mem[k] = k;
    CHECK_STATUS(pybuf_io_new(fd, &v, 'C', PYBUF_IO_READ, 0, &io), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_io_step(io), PYBUF_STATUS_END_OF_FILE);
    CHECK_MSG("after 20 of 64 bytes");
    CHECK_EQ(pybuf_io_done(io), 20);
    {
        unsigned char rest[44];
        double full[8];
        unsigned char all[64];
        pattern(rest, sizeof rest, 6);
        CHECK_EQ(pwrite(fd, rest, sizeof rest, 20), 44);
        CHECK_STATUS(pybuf_io_step(io), PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_io_done(io), 64);
        memcpy(all, bytes, 20);
        memcpy(all + 20, rest, 44);
        memcpy(full, all, 64);
        for (k = 0; k < 8; k++) {
            CHECK_MEM_EQ(&mem[2 * k], &full[k], 8);
            CHECK_EQ(mem[2 * k + 1], 2 * k + 1);
        }
    }
    pybuf_io_free(io);
    close(fd);

    /* A pipe whose writer wrote 20 bytes and closed, read without blocking. */
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], bytes, sizeof bytes), 20);
    close(p[1]);
    set_nonblocking(p[0]);
    for (k = 0; k < 16; k++)
        mem[k] = k;
    CHECK_STATUS(pybuf_io_new(p[0], &v, 'C', PYBUF_IO_READ, -1, &io), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_io_step(io), PYBUF_STATUS_END_OF_FILE);
    CHECK_MSG("after 20 of 64 bytes");
    CHECK_EQ(pybuf_io_done(io), 20);
    CHECK_MEM_EQ(mem, want, sizeof want);
    pybuf_io_free(io);
    close(p[0]);
}

/* ------------------------------------------------------------------ errno and refusals */

static void errno_reporting(void) {
    double mem[64];
    pybuf_ssize_t shape[2] = {8, 8};
    pybuf_buffer v = make_view(mem, 8, 2, shape, NULL, NULL), ro;
    pybuf_io *io = (pybuf_io *)&mem[0]; /* a sentinel: must stay */
    int p[2], s[2], fd, closed;
    unsigned char left[16];
    pattern((unsigned char *)mem, sizeof mem, 7);

    /* A closed fd: EBADF. */
    CHECK_EQ(pipe(p), 0);
    closed = p[1];
    close(p[0]);
    close(p[1]);
    CHECK_STATUS(pybuf_write_fd(closed, &v, 'C'), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EBADF);
    CHECK_MSG("Bad file descriptor");
    CHECK_STATUS(pybuf_read_fd(closed, &v, 'C'), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EBADF);
    CHECK_STATUS(pybuf_io_new(closed, &v, 'C', PYBUF_IO_WRITE, -1, &io), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EBADF);
    CHECK_PTR_EQ(io, &mem[0]);

    /* A socket whose peer has gone: EPIPE, and no SIGPIPE (which would end this test). */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    close(s[1]);
    CHECK_STATUS(pybuf_write_fd(s[0], &v, 'F'), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EPIPE);
    CHECK_MSG("0 of 512 bytes moved");
    /* A non-I/O failure and a success reset pybuf_last_errno to 0. */
    CHECK_STATUS(pybuf_write_fd(s[0], &v, 'X'), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(pybuf_last_errno(), 0);
    close(s[0]);

    /* Offsets on a pipe: ESPIPE; nothing is taken from it. */
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "sixteen bytes!!!", 16), 16);
    CHECK_STATUS(pybuf_pread_fd(p[0], &v, 'C', 0), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), ESPIPE);
    CHECK_MSG("at offset 0");
    CHECK_STATUS(pybuf_pwrite_fd(p[1], &v, 'C', 8), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), ESPIPE);

    /* Refusals before any byte moves. */
    ro = v;
    ro.readonly = 1;
    CHECK_STATUS(pybuf_read_fd(p[0], &ro, 'C'), PYBUF_STATUS_READ_ONLY);
    CHECK_EQ(pybuf_last_errno(), 0);
    CHECK_STATUS(pybuf_write_fd(p[1], NULL, 'C'), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_read_fd(p[0], &v, 'Z'), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_MSG("order");
    CHECK_STATUS(pybuf_io_new(p[0], &v, 'C', 7, -1, &io), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_MSG("direction = 7");
    CHECK_STATUS(pybuf_io_new(p[0], &v, 'C', PYBUF_IO_READ, -5, &io), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_pwrite_fd(p[1], &v, 'C', -1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_MSG("offset = -1");
    CHECK_STATUS(pybuf_io_step(NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_io_done(NULL), -1);
    CHECK_EQ(pybuf_io_total(NULL), -1);
    CHECK_PTR_EQ(io, &mem[0]);
    {
        pybuf_ssize_t zshape[1] = {4}, zstrides[1] = {0};
        pybuf_buffer z = make_view(mem, 8, 1, zshape, zstrides, NULL);
        CHECK_STATUS(pybuf_read_fd(p[0], &z, 'C'), PYBUF_STATUS_INVALID_STRIDES);
    }
    close(p[1]);
    CHECK_EQ(drain(p[0], left, sizeof left), 16);
    CHECK_MEM_EQ(left, "sixteen bytes!!!", 16);
    close(p[0]);

    /* A regular file: pybuf_last_errno is 0 after success. */
    fd = temp_fd();
    CHECK_STATUS(pybuf_pwrite_fd(fd, &v, 'C', 0), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_last_errno(), 0);
    close(fd);
}

int main(void) {
    int fds = count_fds();
    RUN(matrix_through_a_file);
    RUN(pipe_with_a_peer_thread);
    RUN(nonblocking_event_loop);
    RUN(end_of_file);
    RUN(errno_reporting);
    CHECK_EQ(count_fds(), fds); /* no fd leaked */
    return check_report();
}

/*
 * pybuf_recv_view against a hostile peer (issue 15): this test speaks the wire format of
 * /work/notes/share-spec.md by hand (a 40-byte little-endian header, shape, strides,
 * format; one fd in one SCM_RIGHTS control message) and sends every malformed message the
 * spec lists as refused, each on a fresh socket pair of SOCK_STREAM and of SOCK_SEQPACKET:
 * truncated, inconsistent or oversized lengths, bad magic, version, flags and reserved
 * bits, ndim 65, bad formats and itemsizes, negative or overflowing geometry, views
 * reaching outside the fd's st_size on either side, no fd, two fds, MSG_CTRUNC, fds that
 * are pipes, directories, sockets, unsealed memfds, plain files, read-only fds under a
 * writable view, an oversized datagram. Each must be refused with its status and a
 * message, *out untouched, and /proc/self/fd and /proc/self/maps as before.
 *
 * Well-formed hand-written messages are accepted (so the encoder here is the spec's), and
 * their views are exactly the described bytes of the fd, on both sides of each boundary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"
#include "leaks.h"

#define HEADER 40
#define MAX_MESSAGE 32768
#define SEG_SIZE 4096
/* Every memfd and file this test sends is named so: its mappings are counted by it. */
#define NAME "pybuf-hostile"

static char sentinel_;
#define SENTINEL ((pybuf_exporter *)(void *)&sentinel_)

/* The case being run, named when one of its checks fails. */
static const char *case_ = "";

static const char *type_name(int type) {
    return type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_SEQPACKET";
}

/* ------------------------------------------------------------------ the wire format */

/* size bytes of v, little-endian, at p. */
static void put(unsigned char *p, uint64_t v, int size) {
    int i;
    for (i = 0; i < size; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

struct msg {
    unsigned char b[MAX_MESSAGE + 4096];
    size_t n; /* the bytes to send: the message's total unless a case changes it */
};

/* A message as the spec lays it out: header (total computed), shape, strides, format. */
static void encode(struct msg *m, unsigned flags, int ndim, const int64_t *shape,
                   const int64_t *strides, const char *format, size_t fmtlen, int64_t itemsize,
                   uint64_t offset) {
    size_t total = HEADER + 16 * (size_t)ndim + fmtlen;
    int k;
    memset(m->b, 0, sizeof m->b);
    memcpy(m->b, "PYBV", 4);
    put(m->b + 4, 1, 2);
    put(m->b + 6, flags, 2);
    put(m->b + 8, total, 4);
    put(m->b + 12, (uint64_t)ndim, 4);
    put(m->b + 16, fmtlen, 4);
    put(m->b + 24, (uint64_t)itemsize, 8);
    put(m->b + 32, offset, 8);
    for (k = 0; k < ndim; k++) {
        put(m->b + HEADER + 8 * k, (uint64_t)shape[k], 8);
        put(m->b + HEADER + 8 * (ndim + k), (uint64_t)strides[k], 8);
    }
    memcpy(m->b + HEADER + 16 * ndim, format, fmtlen);
    m->n = total;
}

/* The baseline: "<d", 4 x 8, strides (64, 8), element 0 at `offset`: bytes
   [offset, offset + 256) of the fd. */
static void base_msg(struct msg *m, unsigned flags, uint64_t offset) {
    static const int64_t shape[2] = {4, 8}, strides[2] = {64, 8};
    encode(m, flags, 2, shape, strides, "<d", 2, 8, offset);
}

/* A 2-d "<d" message with the given shape, strides and offset. */
static void geometry_msg(struct msg *m, int64_t s0, int64_t s1, int64_t st0, int64_t st1,
                         uint64_t offset) {
    int64_t shape[2], strides[2];
    shape[0] = s0;
    shape[1] = s1;
    strides[0] = st0;
    strides[1] = st1;
    encode(m, 0, 2, shape, strides, "<d", 2, 8, offset);
}

/* A 1-d message of `format` (its length by strlen unless fmtlen != 0) and `itemsize`. */
static void format_msg(struct msg *m, const char *format, size_t fmtlen, int64_t itemsize) {
    static const int64_t shape[1] = {4};
    int64_t strides[1];
    strides[0] = itemsize > 0 && itemsize < 64 ? itemsize : 8;
    encode(m, 0, 1, shape, strides, format, fmtlen ? fmtlen : strlen(format), itemsize, 0);
}

/* ------------------------------------------------------------------ fds */

/* The byte at offset i of every segment this test makes. */
static unsigned char seg_byte(size_t i) {
    return (unsigned char)(i * 37u + 11u + (i >> 8));
}

/* A memfd of SEG_SIZE bytes of seg_byte, with `seals` added (0: not even sealable). */
static int memfd_with(unsigned seals) {
    unsigned char b[SEG_SIZE];
    size_t i;
    int fd = memfd_create(NAME, MFD_CLOEXEC | (seals ? MFD_ALLOW_SEALING : 0u));
    CHECK(fd >= 0);
    for (i = 0; i < SEG_SIZE; i++)
        b[i] = seg_byte(i);
    CHECK_EQ(write(fd, b, SEG_SIZE), SEG_SIZE);
    if (seals)
        CHECK_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

/* What pybuf's anonymous segments carry: sealed against shrinking and growing. */
static int sealed(void) {
    return memfd_with(F_SEAL_SHRINK | F_SEAL_GROW);
}

/* A read-only fd of the same file (fd stays open). */
static int reopen_read_only(int fd) {
    char path[64];
    int ro;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ro = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(ro >= 0);
    return ro;
}

/* A plain file (unlinked) of SEG_SIZE bytes of seg_byte. */
static int plain_file(void) {
    char path[] = "/tmp/" NAME "-XXXXXX";
    unsigned char b[SEG_SIZE];
    size_t i;
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    for (i = 0; i < SEG_SIZE; i++)
        b[i] = seg_byte(i);
    CHECK_EQ(write(fd, b, SEG_SIZE), SEG_SIZE);
    return fd;
}

/* ------------------------------------------------------------------ delivery */

enum {
    SPLIT = 1,     /* each fd in its own SCM_RIGHTS control message */
    KEEP_OPEN = 2, /* the sender's end stays open while the receiver reads */
    NONBLOCK = 4,  /* the receiver's socket is O_NONBLOCK */
    BODY_LATER = 8, /* the header alone with the fds, then the rest in a second sendmsg */
    BODY_FD = 16,   /* ... which carries one more fd */
};

/* One sendmsg of b[0..n) with nfds fds (none: no control message). */
static void send_raw(int sock, const void *b, size_t n, const int *fds, int nfds, int opts) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 256) + 256 * CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *c;
    int k;
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = (void *)b;
    iov.iov_len = n;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = (opts & SPLIT) ? (size_t)nfds * CMSG_SPACE(sizeof(int))
                                           : CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&mh);
        for (k = 0; k < nfds; k++) {
            if (k == 0 || (opts & SPLIT)) {
                if (k > 0)
                    c = CMSG_NXTHDR(&mh, c);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * ((opts & SPLIT) ? 1 : (size_t)nfds));
            }
            memcpy(CMSG_DATA(c) + sizeof(int) * ((opts & SPLIT) ? 0 : (size_t)k), &fds[k],
                   sizeof(int));
        }
    }
    CHECK_EQ(sendmsg(sock, &mh, MSG_NOSIGNAL), (long long)n);
}

/* Send b[0..n) with fds (closed here once sent) on a fresh socket pair of `type` (the
   sender's end then closed unless KEEP_OPEN), and receive with recv_flags: the result must
   be `status`. A refusal leaves *out untouched and no fd or mapping behind; a success
   adds exactly one of each, and the exporter is returned (else NULL). */
static pybuf_exporter *deliver(int type, const void *b, size_t n, const int *fds, int nfds,
                               int opts, int recv_flags, int status) {
    int sv[2], k, fds0, maps0, failed = check_failed_;
    pybuf_exporter *out = SENTINEL;
    check_failed_ = 0;
    CHECK_EQ(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    if (opts & (BODY_LATER | BODY_FD)) {
        int extra = (opts & BODY_FD) ? sealed() : -1;
        send_raw(sv[0], b, HEADER, fds, nfds, opts);
        send_raw(sv[0], (const unsigned char *)b + HEADER, n - HEADER, &extra, extra >= 0, 0);
        if (extra >= 0)
            close(extra);
    } else {
        send_raw(sv[0], b, n, fds, nfds, opts);
    }
    for (k = 0; k < nfds; k++)
        close(fds[k]);
    if (!(opts & KEEP_OPEN))
        close(sv[0]);
    if (opts & NONBLOCK)
        CHECK_EQ(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
    fds0 = count_fds();
    maps0 = count_maps(NAME);
    CHECK_STATUS(pybuf_recv_view(sv[1], recv_flags, &out), status);
    if (status != PYBUF_STATUS_OK) {
        CHECK_PTR_EQ(out, SENTINEL);
        if (out != SENTINEL && out != NULL) /* accepted after all: not to be counted below */
            pybuf_exporter_free(out);
        CHECK_EQ(count_fds(), fds0);
        CHECK_EQ(count_maps(NAME), maps0);
        out = NULL;
    } else {
        CHECK(out != SENTINEL && out != NULL);
        CHECK_EQ(count_fds(), fds0 + 1);
        CHECK_EQ(count_maps(NAME), maps0 + 1);
        if (out == SENTINEL)
            out = NULL;
    }
    if (opts & KEEP_OPEN)
        close(sv[0]);
    close(sv[1]);
    if (check_failed_)
        fprintf(stderr, "  in case \"%s\" on %s\n", case_, type_name(type));
    check_failed_ |= failed;
    return out;
}

/* m (its first n bytes) with a fresh sealed memfd: refused with status. */
static void refused_n(int type, const struct msg *m, size_t n, int recv_flags, int status,
                      const char *what) {
    int fd = sealed();
    case_ = what;
    deliver(type, m->b, n, &fd, 1, 0, recv_flags, status);
}

static void refused(int type, const struct msg *m, int status, const char *what) {
    refused_n(type, m, m->n, 0, status, what);
}

/* The baseline message with the fd `fd` (closed): refused with status under recv_flags. */
static void refused_fd(int type, int fd, unsigned flags, int recv_flags, const char *what) {
    struct msg m;
    base_msg(&m, flags, 0);
    case_ = what;
    deliver(type, m.b, m.n, &fd, 1, 0, recv_flags, PYBUF_STATUS_INVALID_MESSAGE);
}

/* ------------------------------------------------------------------ refused */

static struct msg m_;

/* Lengths, magic, version, flags, reserved. */
static void header_fields(int type) {
    struct msg *m = &m_;
    base_msg(m, 0, 0);
    refused_n(type, m, 20, 0, PYBUF_STATUS_INVALID_MESSAGE, "truncated header");
    refused_n(type, m, HEADER, 0, PYBUF_STATUS_INVALID_MESSAGE, "header only");
    refused_n(type, m, m->n - 1, 0, PYBUF_STATUS_INVALID_MESSAGE, "truncated body");

    put(m->b + 8, 40000, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "total over 32768");
    put(m->b + 8, 0xFFFFFFFFu, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "total 2^32 - 1");
    put(m->b + 8, 20, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "total below the header");
    base_msg(m, 0, 0);
    put(m->b + 8, m->n + 1, 4);
    m->n += 1;
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "total one more than the fields say");
    base_msg(m, 0, 0);
    put(m->b + 8, m->n - 1, 4);
    m->n -= 1;
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "total one less than the fields say");

    base_msg(m, 0, 0);
    m->b[3] = 'W';
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "bad magic");
    base_msg(m, 0, 0);
    put(m->b + 4, 2, 2);
    refused(type, m, PYBUF_STATUS_UNSUPPORTED_VERSION, "version 2");
    put(m->b + 4, 0, 2);
    refused(type, m, PYBUF_STATUS_UNSUPPORTED_VERSION, "version 0");
    base_msg(m, 2, 0);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "flag bit 1");
    base_msg(m, 0x8001, 0);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "flag bit 15");
    base_msg(m, 0, 0);
    put(m->b + 20, 1, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "reserved 1");
    put(m->b + 20, 0x80000000u, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "reserved top bit");
}

/* 1-d messages whose format or itemsize is wrong (fmtlen 0: strlen). */
static const struct format_case {
    const char *format;
    size_t fmtlen;
    int64_t itemsize;
    const char *what;
} refused_formats[] = {
    {"", 0, 8, "empty format"},
    {"<\0d", 3, 8, "format with a NUL inside"},
    {"<d\0", 3, 8, "format with a trailing NUL"},
    {"T{<d", 0, 8, "unterminated T{"},
    {"<y", 0, 8, "unknown format code"},
    {"<d", 0, 4, "itemsize 4 for <d"},
    {"T{<i:a:<h:b:}", 0, 8, "itemsize 8 for a 6-byte struct"},
    {"<d", 0, 0, "itemsize 0"},
    {"<d", 0, -8, "itemsize -8"},
};

/* ndim, format, itemsize. */
static void description_fields(int type) {
    struct msg *m = &m_;
    int64_t shape[PYBUF_MAX_NDIM + 1], strides[PYBUF_MAX_NDIM + 1];
    int k;
    for (k = 0; k <= PYBUF_MAX_NDIM; k++) {
        shape[k] = 1;
        strides[k] = 8;
    }
    encode(m, 0, PYBUF_MAX_NDIM + 1, shape, strides, "<d", 2, 8, 0);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "ndim 65");
    base_msg(m, 0, 0);
    put(m->b + 12, 0xFFFFFFFFu, 4);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "ndim 2^32 - 1");

    for (k = 0; k < (int)(sizeof refused_formats / sizeof *refused_formats); k++) {
        const struct format_case *f = &refused_formats[k];
        format_msg(m, f->format, f->fmtlen, f->itemsize);
        refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, f->what);
    }
}

/* Shape, strides and offset against the fd's st_size: 2-d "<d" messages. */
static const struct geometry_case {
    int64_t shape[2], strides[2];
    uint64_t offset;
    const char *what;
} refused_geometries[] = {
    {{-1, 8}, {64, 8}, 0, "shape[0] = -1"},
    {{4, INT64_MIN}, {64, 8}, 0, "shape[1] = INT64_MIN"},
    {{(int64_t)1 << 62, 8}, {64, 8}, 0, "shape x strides overflowing"},
    {{INT64_MAX, INT64_MAX}, {8, 8}, 0, "shape x shape overflowing"},
    {{2, 8}, {INT64_MIN, 8}, (uint64_t)1 << 62, "stride INT64_MIN"},
    {{3, 8}, {(int64_t)1 << 62, 8}, 0, "extent beyond INT64_MAX"},
    {{4, 8}, {64, 8}, SEG_SIZE - 256 + 1, "last byte at st_size"},
    {{4, 8}, {64, 8}, SEG_SIZE, "offset st_size"},
    {{4, 8}, {64, 8}, UINT64_MAX - 7, "offset 2^64 - 8"},
    {{4, 8}, {64, 8}, (uint64_t)1 << 63, "offset 2^63"},
    {{4, 8}, {-64, 8}, 3 * 64 - 1, "negative stride reaching byte -1"},
    {{4, 8}, {64, -8}, 7 * 8 - 1, "negative inner stride reaching byte -1"},
    {{2, 1}, {-((int64_t)1 << 62), 8}, 8, "negative stride far below 0"},
};

static void geometry(int type) {
    struct msg *m = &m_;
    static const int64_t none[1] = {0};
    size_t k;
    for (k = 0; k < sizeof refused_geometries / sizeof *refused_geometries; k++) {
        const struct geometry_case *g = &refused_geometries[k];
        encode(m, 0, 2, g->shape, g->strides, "<d", 2, 8, g->offset);
        refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, g->what);
    }
    encode(m, 0, 0, none, none, "<d", 2, 8, SEG_SIZE - 7);
    refused(type, m, PYBUF_STATUS_INVALID_MESSAGE, "0-d, its last byte at st_size");
}

/* The control message and the kind of fd. */
static void fds(int type) {
    struct msg *m = &m_;
    int f[200], p[2], k, sv[2];
    base_msg(m, 0, 0);

    case_ = "no fd";
    deliver(type, m->b, m->n, NULL, 0, 0, 0, PYBUF_STATUS_INVALID_MESSAGE);
    case_ = "two fds in one control message";
    f[0] = sealed();
    f[1] = sealed();
    deliver(type, m->b, m->n, f, 2, 0, 0, PYBUF_STATUS_INVALID_MESSAGE);
    case_ = "two control messages";
    f[0] = sealed();
    f[1] = sealed();
    deliver(type, m->b, m->n, f, 2, SPLIT, 0, PYBUF_STATUS_INVALID_MESSAGE);
    case_ = "200 fds: MSG_CTRUNC";
    f[0] = sealed();
    for (k = 1; k < 200; k++)
        f[k] = dup(f[0]);
    deliver(type, m->b, m->n, f, 200, 0, 0, PYBUF_STATUS_INVALID_MESSAGE);

    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    refused_fd(type, p[0], 1, PYBUF_RECV_UNSEALED, "a pipe");
    refused_fd(type, open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC), 1, PYBUF_RECV_UNSEALED,
               "a directory");
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    refused_fd(type, sv[0], 0, PYBUF_RECV_UNSEALED, "a socket");
    refused_fd(type, open("/dev/null", O_RDWR | O_CLOEXEC), 0, PYBUF_RECV_UNSEALED,
               "a character device");

    refused_fd(type, memfd_with(0), 0, 0, "an unsealable memfd");
    refused_fd(type, memfd_with(F_SEAL_GROW), 0, 0, "a memfd sealed against growing only");
    refused_fd(type, plain_file(), 0, 0, "a plain file");
    refused_fd(type, memfd_with(F_SEAL_SHRINK), 0, PYBUF_RECV_SEALED,
               "PYBUF_RECV_SEALED, sealed against shrinking only");
    k = sealed();
    refused_fd(type, reopen_read_only(k), 0, 0, "a writable view over an O_RDONLY fd");
    close(k);
}

/* Only on one kind of socket: an oversized datagram (SOCK_SEQPACKET), a message whose
   rest is not there on a non-blocking stream. */
static void socket_specific(int type) {
    struct msg *m = &m_;
    int fd;
    if (type == SOCK_SEQPACKET) {
        base_msg(m, 0, 0);
        memset(m->b + m->n, 'x', MAX_MESSAGE + 100 - m->n);
        refused_n(type, m, MAX_MESSAGE + 100, 0, PYBUF_STATUS_INVALID_MESSAGE,
                  "a datagram of 32868 bytes (MSG_TRUNC)");
        format_msg(m, "", 0, 1);
        memset(m->b + HEADER + 16, 'B', MAX_MESSAGE + 8 - HEADER - 16);
        put(m->b + 16, MAX_MESSAGE + 8 - HEADER - 16, 4);
        put(m->b + 8, MAX_MESSAGE + 8, 4);
        refused_n(type, m, MAX_MESSAGE + 8, 0, PYBUF_STATUS_INVALID_MESSAGE,
                  "total 32776, all there");
    } else {
        base_msg(m, 0, 0);
        fd = sealed();
        case_ = "non-blocking stream: the header only, the sender still open";
        deliver(type, m->b, HEADER, &fd, 1, KEEP_OPEN | NONBLOCK, 0,
                PYBUF_STATUS_INVALID_MESSAGE);
        fd = sealed();
        case_ = "stream: a second fd with the rest of the message";
        deliver(type, m->b, m->n, &fd, 1, BODY_FD, 0, PYBUF_STATUS_INVALID_MESSAGE);
    }
}

static void refused_stream(void) {
    header_fields(SOCK_STREAM);
    description_fields(SOCK_STREAM);
    geometry(SOCK_STREAM);
    fds(SOCK_STREAM);
    socket_specific(SOCK_STREAM);
}

static void refused_seqpacket(void) {
    header_fields(SOCK_SEQPACKET);
    description_fields(SOCK_SEQPACKET);
    geometry(SOCK_SEQPACKET);
    fds(SOCK_SEQPACKET);
    socket_specific(SOCK_SEQPACKET);
}

/* ------------------------------------------------------------------ accepted */

/* m with fd (closed): accepted; the view has m's geometry, format and readonly, and each
   element is the fd's bytes at the described offset. Writable views are written through
   and the write read back from `check_fd` (a second fd of the same file; -1: none). */
static void accepted_opts(int type, const struct msg *m, int fd, int opts, int recv_flags,
                          int check_fd, const char *what) {
    pybuf_exporter *e;
    pybuf_buffer v, w;
    int fds0 = count_fds(), failed = check_failed_;
    check_failed_ = 0;
    case_ = what;
    e = deliver(type, m->b, m->n, &fd, 1, opts, recv_flags, PYBUF_STATUS_OK);
    if (e != NULL) {
        uint32_t ndim = (uint32_t)m->b[12] | (uint32_t)m->b[13] << 8;
        uint32_t fmtlen = (uint32_t)m->b[16] | (uint32_t)m->b[17] << 8;
        int64_t itemsize = 0, offset = 0, x;
        pybuf_ssize_t idx[PYBUF_MAX_NDIM];
        char format[256];
        int k, ro = m->b[6] & 1;
        memcpy(&itemsize, m->b + 24, 8); /* little-endian hosts only, as the spec's peers */
        memcpy(&offset, m->b + 32, 8);
        memcpy(format, m->b + HEADER + 16 * ndim, fmtlen);
        format[fmtlen] = '\0';
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        CHECK_EQ(v.ndim, (int)ndim);
        CHECK_EQ(v.itemsize, itemsize);
        CHECK_STR_EQ(v.format, format);
        CHECK_EQ(v.readonly, ro || (recv_flags & PYBUF_RECV_READONLY) != 0);
        for (k = 0; k < v.ndim && (uint32_t)v.ndim == ndim; k++) {
            memcpy(&x, m->b + HEADER + 8 * k, 8);
            CHECK_EQ(v.shape[k], x);
            memcpy(&x, m->b + HEADER + 8 * (ndim + k), 8);
            CHECK_EQ(v.strides[k], x);
            idx[k] = v.shape[k] - 1;
        }
        /* element 0 and the last element (every index at its end) */
        if (v.len > 0 && (uint32_t)v.ndim == ndim) {
            const unsigned char *first = pybuf_get_pointer(&v, idx), *zero = v.buf;
            int64_t last_at = offset;
            for (k = 0; k < v.ndim; k++)
                last_at += (int64_t)(v.shape[k] - 1) * v.strides[k];
            for (k = 0; k < itemsize; k++) {
                CHECK_EQ(zero[k], seg_byte((size_t)(offset + k)));
                CHECK_EQ(first[k], seg_byte((size_t)(last_at + k)));
            }
        }
        if (v.readonly) {
            CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_WRITABLE), PYBUF_STATUS_READ_ONLY);
        } else if (check_fd >= 0) {
            unsigned char back = 0;
            CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_FULL), PYBUF_STATUS_OK);
            ((unsigned char *)w.buf)[0] ^= 0xFF;
            CHECK_EQ(pread(check_fd, &back, 1, offset), 1);
            CHECK_EQ(back, (unsigned char)(seg_byte((size_t)offset) ^ 0xFF));
            pybuf_release(&w);
        }
        pybuf_release(&v);
        pybuf_exporter_free(e);
    }
    if (check_fd >= 0)
        close(check_fd);
    CHECK_EQ(count_fds(), fds0 - 1 - (check_fd >= 0));
    CHECK_EQ(count_maps(NAME), 0);
    if (check_failed_)
        fprintf(stderr, "  in case \"%s\" on %s\n", case_, type_name(type));
    check_failed_ |= failed;
}

static void accepted(int type, const struct msg *m, int fd, int recv_flags, int check_fd,
                     const char *what) {
    accepted_opts(type, m, fd, 0, recv_flags, check_fd, what);
}

static void accepted_messages(int type) {
    struct msg *m = &m_;
    int64_t shape[PYBUF_MAX_NDIM], strides[PYBUF_MAX_NDIM];
    int fd, k;

    base_msg(m, 0, 0);
    fd = sealed();
    accepted(type, m, fd, 0, dup(fd), "the baseline: <d 4 x 8 at 0");
    base_msg(m, 0, SEG_SIZE - 256);
    fd = sealed();
    accepted(type, m, fd, 0, dup(fd), "its last byte at st_size - 1");
    geometry_msg(m, 4, 8, -64, 8, 3 * 64);
    fd = sealed();
    accepted(type, m, fd, 0, dup(fd), "negative stride down to byte 0");
    geometry_msg(m, 4, 8, 64, -8, 7 * 8);
    fd = sealed();
    accepted(type, m, fd, 0, -1, "negative inner stride down to byte 0");
    {
        static const int64_t none[1] = {0};
        encode(m, 0, 0, none, none, "3s", 2, 3, SEG_SIZE - 3);
        accepted(type, m, sealed(), 0, -1, "0-d 3s at st_size - 3");
    }
    shape[0] = 5;
    strides[0] = -6;
    encode(m, 0, 1, shape, strides, "T{<i:a:<h:b:}", 13, 6, 24);
    accepted(type, m, sealed(), 0, -1, "a struct, backwards");
    for (k = 0; k < PYBUF_MAX_NDIM; k++) {
        shape[k] = 1;
        strides[k] = 8;
    }
    encode(m, 0, PYBUF_MAX_NDIM, shape, strides, "<d", 2, 8, 8);
    accepted(type, m, sealed(), 0, -1, "ndim 64");

    base_msg(m, 1, 0);
    fd = sealed();
    accepted(type, m, reopen_read_only(fd), 0, -1, "read-only over an O_RDONLY fd");
    close(fd);
    base_msg(m, 0, 0);
    accepted(type, m, sealed(), PYBUF_RECV_READONLY, -1, "PYBUF_RECV_READONLY");
    fd = memfd_with(0);
    accepted(type, m, fd, PYBUF_RECV_UNSEALED, dup(fd), "an unsealable memfd, PYBUF_RECV_UNSEALED");
    fd = plain_file();
    accepted(type, m, fd, PYBUF_RECV_UNSEALED, dup(fd), "a plain file, PYBUF_RECV_UNSEALED");
    base_msg(m, 1, 0);
    accepted(type, m, memfd_with(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), PYBUF_RECV_SEALED,
             -1, "sealed against writes, PYBUF_RECV_SEALED");
    if (type == SOCK_STREAM) {
        base_msg(m, 0, 0);
        accepted_opts(type, m, sealed(), BODY_LATER, 0, -1,
                      "blocking stream: the header, then the rest in a second write");
    }
}

static void accepted_stream(void) {
    accepted_messages(SOCK_STREAM);
}

static void accepted_seqpacket(void) {
    accepted_messages(SOCK_SEQPACKET);
}

/* Two messages back to back on one stream: both, in order. */
static void back_to_back(void) {
    struct msg *m = &m_;
    int sv[2], fd, k, fds0;
    pybuf_exporter *e[2] = {SENTINEL, SENTINEL};
    pybuf_buffer v;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    for (k = 0; k < 2; k++) {
        base_msg(m, 0, 8 * (uint64_t)k);
        fd = sealed();
        send_raw(sv[0], m->b, m->n, &fd, 1, 0);
        close(fd);
    }
    close(sv[0]);
    fds0 = count_fds();
    for (k = 0; k < 2; k++) {
        CHECK_STATUS(pybuf_recv_view(sv[1], 0, &e[k]), PYBUF_STATUS_OK);
        if (e[k] == SENTINEL)
            continue;
        CHECK_STATUS(pybuf_exporter_get_buffer(e[k], &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        CHECK_EQ(((unsigned char *)v.buf)[0], seg_byte(8 * (size_t)k));
        pybuf_release(&v);
    }
    CHECK_EQ(count_fds(), fds0 + 2);
    CHECK_STATUS(pybuf_recv_view(sv[1], 0, &e[0]), PYBUF_STATUS_END_OF_FILE);
    for (k = 0; k < 2; k++)
        if (e[k] != SENTINEL)
            pybuf_exporter_free(e[k]);
    close(sv[1]);
    CHECK_EQ(count_fds(), fds0 - 1);
    CHECK_EQ(count_maps(NAME), 0);
}

int main(void) {
    int fds0 = count_fds();
    alarm(300); /* a receiver waiting for bytes that never come fails instead of hanging */
    RUN(accepted_stream);
    RUN(accepted_seqpacket);
    RUN(back_to_back);
    RUN(refused_stream);
    RUN(refused_seqpacket);
    CHECK_EQ(count_fds(), fds0);
    CHECK_EQ(count_maps(NAME), 0);
    return check_report();
}

// HPTT as a peer in benches/transpose.c: our C interface (benches/hptt_peer.h) over HPTT's
// public C++ API (hptt::create_plan, Transpose::execute), so that the benchmark reuses one
// plan as HPTT's users do. Built only by `make bench-transpose HPTT_DIR=...`; HPTT itself
// (github.com/springer13/hptt) is built by hand outside this repository.
#include "hptt_peer.h"

#include <hptt.h>

#include <chrono>
#include <complex>
#include <memory>
#include <new>

struct hptt_peer {
    virtual ~hptt_peer() {}
    virtual void execute() = 0;
    virtual void execute_at(void *dst, const void *src) = 0;
};

namespace {

template <typename T> struct peer : hptt_peer {
    std::shared_ptr<hptt::Transpose<T>> plan;
    void execute() override { plan->execute(); }
    void execute_at(void *dst, const void *src) override {
        plan->setInputPtr(static_cast<const T *>(src));
        plan->setOutputPtr(static_cast<T *>(dst));
        plan->execute();
    }
};

template <typename T>
hptt_peer *make(int ndim, const int *perm, const int *size, const int *outer, void *dst, const void *src,
                int threads, int estimate) {
    peer<T> *p = new (std::nothrow) peer<T>;
    if (p == nullptr) return nullptr;
    // Row-major (useRowMajor), so that sizes and perm read as numpy's.
    p->plan = hptt::create_plan(perm, ndim, T(1), static_cast<const T *>(src), size, outer, T(0),
                                static_cast<T *>(dst), nullptr, estimate ? hptt::ESTIMATE : hptt::MEASURE,
                                threads, nullptr, true);
    if (!p->plan) {
        delete p;
        return nullptr;
    }
    return p;
}

} // namespace

extern "C" hptt_peer *hptt_peer_new(int elem_size, int ndim, const int *perm, const int *size, const int *outer,
                                    void *dst, const void *src, int threads, int estimate, double *plan_seconds) {
    auto t0 = std::chrono::steady_clock::now();
    hptt_peer *p = nullptr;
    try {
        switch (elem_size) {
        case 4: p = make<float>(ndim, perm, size, outer, dst, src, threads, estimate); break;
        case 8: p = make<double>(ndim, perm, size, outer, dst, src, threads, estimate); break;
        case 16: p = make<hptt::DoubleComplex>(ndim, perm, size, outer, dst, src, threads, estimate); break;
        default: return nullptr;
        }
    } catch (...) {
        return nullptr;
    }
    if (plan_seconds != nullptr)
        *plan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return p;
}

extern "C" void hptt_peer_execute(hptt_peer *p) { p->execute(); }

extern "C" void hptt_peer_execute_at(hptt_peer *p, void *dst, const void *src) { p->execute_at(dst, src); }

extern "C" void hptt_peer_free(hptt_peer *p) { delete p; }

#include "api/http/worker_pool.hpp"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace orchagent::http {

WorkerPool::WorkerPool(unsigned threads, size_t max_queue) : ring_(std::max<size_t>(1, max_queue)) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() {
    stop();
    join();
}

bool WorkerPool::try_submit(Job job) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (stopped_ || size_ == ring_.size()) return false;
        ring_[(head_ + size_) % ring_.size()] = std::move(job);
        ++size_;
        queued_.store(size_, std::memory_order_release);
        // No wake-up when a spinner will see the job, or when every thread is busy (the
        // next one to finish takes it without sleeping).
        wake = idle_ > 0 && spinning_.load() == 0;
    }
    if (wake) ready_.notify_one();
    return true;
}

void WorkerPool::stop() {
    std::vector<Job> dropped;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
        stopped_ = true;
        // Destroy dropped jobs outside the lock: their captures may run destructors that
        // take other locks.
        for (; size_ > 0; --size_, head_ = (head_ + 1) % ring_.size()) {
            dropped.push_back(std::move(ring_[head_]));
        }
        queued_.store(0);
    }
    ready_.notify_all();
}

void WorkerPool::join() {
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
}

size_t WorkerPool::queued() const {
    std::lock_guard lock(mutex_);
    return size_;
}

bool WorkerPool::spin_for_work() const {
    // ~50 us: about two requests' worth at the rates measured in docs/http.md. Longer only
    // burns a core the reactors need on a small machine.
    constexpr auto kSpin = std::chrono::microseconds(50);
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1;; ++i) {
        if (queued_.load(std::memory_order_acquire) > 0) return true;
        // Yield rather than spin hard: on a machine with fewer cores than threads, the
        // reactor that will submit the next job may need this very core.
        sched_yield();
        if (i % 8 == 0 && std::chrono::steady_clock::now() > until) return false;
    }
}

void WorkerPool::run() {
    for (;;) {
        Job job;
        bool wake_next = false;
        {
            std::unique_lock lock(mutex_);
            bool spun = false;
            while (size_ == 0 && !stopped_) {
                unsigned none = 0;
                if (!spun && spinning_.compare_exchange_strong(none, 1)) {
                    spun = true;
                    lock.unlock();
                    spin_for_work();
                    spinning_.store(0);
                    lock.lock();
                    continue;  // size_ is checked again under the lock: no lost wake-up
                }
                ++idle_;
                ready_.wait(lock);
                --idle_;
                spun = false;
            }
            if (stopped_) return;
            job = std::move(ring_[head_]);
            head_ = (head_ + 1) % ring_.size();
            --size_;
            queued_.store(size_, std::memory_order_release);
            wake_next = size_ > 0 && idle_ > 0 && spinning_.load() == 0;
        }
        if (wake_next) ready_.notify_one();
        try {
            job();
        } catch (const std::exception& e) {
            // Jobs catch their handler's exceptions; reaching here is a bug in the server.
            spdlog::error("http worker: job threw: {}", e.what());
        } catch (...) {
            spdlog::error("http worker: job threw a non-exception");
        }
    }
}

}  // namespace orchagent::http

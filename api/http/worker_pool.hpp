// A fixed set of handler threads fed by a bounded queue. Reactor threads only ever call
// try_submit(), which never blocks on a full queue: it says no, and the caller answers 503.
//
// Waking a sleeping thread is what a hand-off costs (a futex call on each side and two
// context switches, measured in docs/http.md), so the pool wakes as few as it can: a thread
// that runs out of work first polls the queue for a short while (one such "spinner" at a
// time) before it sleeps, a submit wakes a sleeper only when no spinner will take the job,
// and a thread that takes a job while more wait wakes the next one (so blocking handlers
// still get every thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace orchagent::http {

class WorkerPool {
  public:
    using Job = std::move_only_function<void()>;

    // threads >= 1; max_queue: jobs that may wait for a thread (running ones not counted).
    WorkerPool(unsigned threads, size_t max_queue);
    ~WorkerPool();  // stop() and join
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // False when max_queue jobs already wait, or after stop(). Never blocks for long.
    bool try_submit(Job job);
    // No new jobs; jobs still queued are dropped (their owners time out or were drained);
    // running jobs finish. Does not wait.
    void stop();
    // Waits for every thread to return (after stop()).
    void join();

    size_t queued() const;

  private:
    void run();
    // Polls the queue for a little while without sleeping; true when a job showed up.
    bool spin_for_work() const;

    mutable std::mutex mutex_;
    std::condition_variable ready_;
    // Ring buffer of capacity max_queue: head_ is the next job to run.
    std::vector<Job> ring_;
    size_t head_ = 0;
    size_t size_ = 0;
    std::atomic<size_t> queued_{0};  // size_, readable without the lock (for spinners)
    unsigned idle_ = 0;              // threads waiting on ready_
    std::atomic<unsigned> spinning_{0};
    bool stopped_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace orchagent::http

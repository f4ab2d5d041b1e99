#include "sandbox/cgroup_pool.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace orchagent::sandbox {

CgroupPool::CgroupPool(const CgroupManager& manager, size_t ready_target)
    : manager_(manager),
      ready_target_(ready_target),
      worker_([this](const std::stop_token& stop) { work(stop); }) {}

CgroupPool::~CgroupPool() {
    worker_.request_stop();
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
    // ready_ and retired_ go with their destructors: kill what is left, rmdir.
}

Result<std::unique_ptr<RunCgroup>> CgroupPool::make() {
    uint64_t n;
    {
        std::lock_guard lock(mutex_);
        n = counter_++;
    }
    return manager_.create_without_limits(fmt::format("p{}", n));
}

Result<std::unique_ptr<RunCgroup>> CgroupPool::take(const Limits& limits) {
    std::unique_ptr<RunCgroup> group;
    {
        std::lock_guard lock(mutex_);
        if (!ready_.empty()) {
            group = std::move(ready_.front());
            ready_.pop_front();
        }
    }
    wake_.notify_one();
    if (!group) {
        auto made = make();
        if (!made) return made;
        group = std::move(*made);
    }
    if (auto set = group->set_limits(limits); !set) {
        retire(std::move(group));
        return std::unexpected(set.error());
    }
    return group;
}

void CgroupPool::retire(std::unique_ptr<RunCgroup> group) {
    {
        std::lock_guard lock(mutex_);
        retired_.push_back(std::move(group));
    }
    wake_.notify_one();
}

void CgroupPool::work(const std::stop_token& stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        if (!retired_.empty()) {
            auto done = std::move(retired_);
            retired_.clear();
            lock.unlock();
            done.clear();  // kill leftovers, rmdir: outside the lock
            lock.lock();
            continue;
        }
        if (ready_.size() < ready_target_ && !failing_) {
            lock.unlock();
            auto made = make();
            lock.lock();
            failing_ = !made;  // take() makes its own and reports the error
            if (made) ready_.push_back(std::move(*made));
            continue;
        }
        wake_.wait(lock, stop, [this] {
            return !retired_.empty() || (ready_.size() < ready_target_ && !failing_);
        });
    }
}

}  // namespace orchagent::sandbox

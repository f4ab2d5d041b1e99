// Keeps cgroup creation and removal off a run's critical path. Making a run's groups costs
// ~0.2 ms here (a memory cgroup is the expensive part) and removing them ~0.07 ms; a worker
// thread keeps a few fresh groups ready and removes used ones. Groups are never reused: each
// run meters from zero (reused memory groups would keep page cache charged by earlier runs).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sandbox/cgroup.hpp"

namespace orchagent::sandbox {

class CgroupPool {
  public:
    // `manager` must outlive the pool and not be in kRlimitOnly mode.
    explicit CgroupPool(const CgroupManager& manager, size_t ready_target = 4);
    ~CgroupPool();  // stops the worker; removes ready and retired groups
    CgroupPool(const CgroupPool&) = delete;
    CgroupPool& operator=(const CgroupPool&) = delete;

    // A fresh group with `limits` written; made on the spot when none is ready.
    Result<std::unique_ptr<RunCgroup>> take(const Limits& limits);
    // Hands a used group to the worker, which kills what is left in it and removes it.
    void retire(std::unique_ptr<RunCgroup> group);

  private:
    Result<std::unique_ptr<RunCgroup>> make();
    void work(const std::stop_token& stop);

    const CgroupManager& manager_;
    const size_t ready_target_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<std::unique_ptr<RunCgroup>> ready_;
    std::vector<std::unique_ptr<RunCgroup>> retired_;
    uint64_t counter_ = 0;
    bool failing_ = false;  // the last background make() failed: stop trying ahead
    std::jthread worker_;   // last: started once everything above exists
};

}  // namespace orchagent::sandbox

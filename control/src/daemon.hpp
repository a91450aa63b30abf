// SPDX-License-Identifier: Apache-2.0
//
// daemon.hpp: sluice-control's state and its one lock. The config file plus
// the API's changes (state.hpp) give the services to run; health results
// decide which backends own slots; tables.hpp publishes them.
//
// Every change (API, reload, health) follows the same order:
//   validate the whole new state -> persist (API/reload) -> publish -> adopt.
// A failure at any step leaves the old state serving and persisted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "health.hpp"
#include "metrics.hpp"
#include "sluice/config.hpp"
#include "sluice/region_map.hpp"
#include "state.hpp"
#include "tables.hpp"

namespace sluice::control {

inline constexpr const char *kVersion = "0.1.0";

// A mutex whose lock waits until a deadline. std::timed_mutex would do, but
// its try_lock_until (pthread_mutex_clocklock) is not understood by the
// ThreadSanitizer of this toolchain, which then reports false unlock errors;
// polling try_lock keeps the publishing tests meaningful under TSan.
class DeadlineMutex {
  public:
    void lock() { mu_.lock(); }
    bool try_lock() { return mu_.try_lock(); }
    void unlock() { mu_.unlock(); }
    template <typename Clock, typename Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &deadline) {
        while (!mu_.try_lock()) {
            if (Clock::now() >= deadline) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        return true;
    }

  private:
    std::mutex mu_;
};

// One line on stderr with a UTC timestamp.
void log_line(const std::string &line);

class Daemon {
  public:
    // Loads and validates the config, the state file and the seed, maps the
    // region, reconciles ids with what the region holds and publishes.
    // Throws (config::ConfigError, SysError, std::runtime_error) with a
    // message for the operator.
    explicit Daemon(const std::string &config_path);
    ~Daemon();

    // Starts the API server, the health checker and the metrics endpoint.
    void start();
    // Runs until `stop`; reloads when `reload` is set (SIGHUP); publishes
    // health changes.
    void run(const std::atomic<bool> &stop, std::atomic<bool> &reload);
    void shutdown();

    // The API (docs/API.md): result JSON or throws ApiError.
    nlohmann::json handle(const std::string &cmd, const nlohmann::json &args,
                          std::chrono::steady_clock::time_point deadline);
    // Prometheus text exposition for /metrics.
    std::string metrics();

    uint64_t generation() const;

  private:
    struct Health {
        bool healthy = true;
        unsigned ok_run = 0;
        unsigned fail_run = 0;
        int64_t since = 0; // unix seconds
        std::string last_error;
    };
    struct Desired {
        std::vector<Service> services;
        Overlay overlay;
        Ids ids;
    };

    std::unique_lock<DeadlineMutex> lock(std::chrono::steady_clock::time_point deadline);
    // Validate, persist, publish, adopt. Throws ApiError.
    uint64_t change(Overlay next, std::chrono::steady_clock::time_point deadline);
    uint64_t reload_locked(std::chrono::steady_clock::time_point deadline);
    void persist(const Overlay &overlay, const Ids &ids);
    // persist() of a change; when it fails, the state in effect is written
    // back before the error goes on (the file may hold the change already).
    void persist_change(const Overlay &overlay, const Ids &ids);
    // The state in effect (overlay_, ids_) into the state file; a failure is
    // logged.
    void restore_state_file() noexcept;
    // The steps a change and a reload share: (next, ids) persisted, then
    // services published. On a failure nothing has changed (the state file
    // holds the state in effect again) and the ApiError (persist_failed,
    // publish_failed or timeout) says not_done first.
    void persist_and_publish_locked(const Overlay &next, const Ids &ids,
                                    const std::vector<Service> &services,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::string &not_done);
    // What was published put in effect: overlay, ids, services, health
    // checks. Returns the generation that holds it.
    uint64_t adopt_locked(Overlay next, Ids ids, std::vector<Service> services);
    // Builds the table input from services + health and publishes it.
    PublishResult publish_locked(const std::vector<Service> &services, const Ids &ids,
                                 std::chrono::milliseconds deadline);
    void set_health_targets_locked();
    // The region's name no longer refers to region_: opens (or creates) the
    // region under the name and publishes the current tables into it.
    void reattach_region_locked();
    void on_probe(const ProbeTarget &t, bool ok, const std::string &error);
    bool eligible(const Service &s, const Backend &b) const;

    nlohmann::json status_locked();
    nlohmann::json service_summary(const Service &s) const;
    nlohmann::json backends_json(const Service &s) const;
    const Service *find(const std::string &name) const;
    nlohmann::json lookup_locked(const nlohmann::json &args);

    std::string config_path_;
    std::string state_path_;
    config::Config cfg_;
    config::ControlConfig control_; // as started: [control] changes need a restart
    std::vector<Service> services_;
    Overlay overlay_;
    Ids ids_;
    sl_hash_seed seed_{};
    Region region_;
    std::unique_ptr<TablePublisher> tables_;
    std::map<BackendKey, Health> health_;
    std::map<std::string, std::set<Address>> last_set_; // fail open: last table's owners
    std::set<std::string> failing_open_;
    uint64_t generation_ = 0;
    uint64_t publish_ns_ = 0;
    int huge_pages_errno_ = -1; // of the last publish (TablePublisher::huge_pages_errno)
    uint64_t publishes_ = 0;
    uint64_t publish_failures_ = 0;
    uint64_t region_reattached_ = 0;
    std::chrono::steady_clock::time_point started_;

    DeadlineMutex mu_;
    std::mutex wake_mu_;
    std::condition_variable wake_cv_;
    bool health_dirty_ = false; // under wake_mu_

    std::unique_ptr<ApiServer> api_;
    std::unique_ptr<HealthChecker> health_checker_;
    std::unique_ptr<MetricsServer> metrics_;
};

} // namespace sluice::control

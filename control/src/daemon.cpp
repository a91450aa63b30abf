// SPDX-License-Identifier: Apache-2.0
#include "daemon.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/decide.h"
#include "sluice/maglev.hpp"

namespace sluice::control {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::mutex log_mu;

std::string utc_time(int64_t unix_s) {
    const time_t t = static_cast<time_t>(unix_s);
    tm tmv{};
    gmtime_r(&t, &tmv);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tmv);
    return buf;
}

int64_t unix_now() {
    return static_cast<int64_t>(::time(nullptr));
}

std::chrono::milliseconds left(Clock::time_point deadline) {
    const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(d, std::chrono::milliseconds(1));
}

std::string str_arg(const json &args, const char *key) {
    if (!args.contains(key)) {
        throw ApiError("bad_request", std::string("missing argument \"") + key + "\"");
    }
    if (!args[key].is_string()) {
        throw ApiError("bad_request", std::string("argument \"") + key + "\" must be a string");
    }
    return args[key].get<std::string>();
}

Address addr_arg(const json &args, const char *key) {
    const std::string s = str_arg(args, key);
    auto a = config::parse_address(s);
    if (!a) {
        throw ApiError("bad_request",
                       std::string(key) + ": \"" + s + "\" is not an IPv4 or IPv6 address");
    }
    return *a;
}

void only_args(const json &args, std::initializer_list<const char *> allowed) {
    for (auto it = args.begin(); it != args.end(); ++it) {
        bool ok = false;
        for (const char *a : allowed) {
            ok = ok || it.key() == a;
        }
        if (!ok) {
            throw ApiError("bad_request", "unknown argument \"" + it.key() + "\"");
        }
    }
}

sl_hash_seed read_seed(const config::Config &c) {
    if (c.seed) {
        return *config::parse_seed(*c.seed);
    }
    const std::string path = c.control.state_dir + "/seed";
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("no hash seed: set `seed` (32 hex digits) in " + c.path +
                                 " or create " + path +
                                 " (scripts/setup does; every box of a deployment needs the same "
                                 "seed)");
    }
    std::string text;
    std::getline(in, text);
    auto seed = config::parse_seed(text);
    if (!seed) {
        throw std::runtime_error(path + ": not 32 hex digits");
    }
    return *seed;
}

// The region, with control's writer lock: a second sluice-control on the
// same instance stops here, before it writes a table or the state file.
Region open_region(const config::Config &c) {
    Region r = Region::open(c.dataplane.instance, Region::Role::Control);
    if (!r.try_lock_writer()) {
        const pid_t pid = r.header()->control_pid;
        throw SysError(0, "another sluice-control" +
                              (pid > 0 ? " (pid " + std::to_string(pid) + ")" : "") +
                              " writes the region /dev/shm" + r.name() + " of instance '" +
                              c.dataplane.instance +
                              "': stop it first, or give this one another instance "
                              "([dataplane] instance)");
    }
    return r;
}

// The ports the dataplane says it has, at most the region's SL_MAX_PORTS.
uint32_t dp_ports(const sl_dp_area *dp) {
    return std::min<uint32_t>(__atomic_load_n(&dp->n_ports, __ATOMIC_RELAXED), SL_MAX_PORTS);
}

// The config file's backend at address a of its service `name`, or null
// when the file has no such service or no backend there.
const Backend *file_backend(const std::vector<Service> &file, const std::string &name,
                            const Address &a) {
    for (const Service &s : file) {
        if (s.name == name) {
            for (const Backend &b : s.backends) {
                if (b.address == a) {
                    return &b;
                }
            }
            return nullptr;
        }
    }
    return nullptr;
}

// Records in the overlay what b changes of the file's backend fb (key k):
// the fields that differ, or no entry at all when none does.
void record_override(Overlay &next, const BackendKey &k, const Backend &b, const Backend &fb) {
    BackendChange c;
    c.kind = BackendChange::Kind::Override;
    if (b.weight != fb.weight) {
        c.weight = b.weight;
    }
    if (b.state != fb.state) {
        c.state = b.state;
    }
    if (b.mac != fb.mac) {
        c.mac = b.mac;
    }
    if (c.weight || c.state || c.mac) {
        next.backends[k] = c;
    } else {
        next.backends.erase(k);
    }
}

} // namespace

void log_line(const std::string &line) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm tmv{};
    gmtime_r(&ts.tv_sec, &tmv);
    char buf[40];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tmv);
    std::lock_guard lock(log_mu);
    std::fprintf(stderr, "%s.%03ldZ sluice-control: %s\n", buf, ts.tv_nsec / 1000000, line.c_str());
    std::fflush(stderr);
}

Daemon::Daemon(const std::string &config_path)
    : config_path_(config_path), cfg_(config::load(config_path)), region_(open_region(cfg_)),
      started_(Clock::now()) {
    if (::mkdir(cfg_.control.state_dir.c_str(), 0750) != 0 && errno != EEXIST) {
        throw SysError(errno, "create state directory " + cfg_.control.state_dir);
    }
    control_ = cfg_.control;
    state_path_ = cfg_.control.state_dir + "/state.json";
    seed_ = read_seed(cfg_);
    PersistedState st = load_state(state_path_).value_or(PersistedState{});
    for (const std::string &l : prune_overlay(st.overlay, cfg_.services)) {
        log_line(l);
    }
    std::vector<Service> services = apply_overlay(cfg_.services, st.overlay);
    try {
        config::validate_services(services, cfg_.dataplane, cfg_.path, config::Naming::ByName);
    } catch (const config::ConfigError &e) {
        throw std::runtime_error(std::string("the config file with the API changes in ") +
                                 state_path_ + " is invalid: " + e.what());
    }
    // Ids: the state file's; for services and backends it does not know,
    // those the region's published tables use (a lost state file must not
    // renumber what the dataplane forwards with).
    std::map<std::string, uint16_t> shint;
    std::map<BackendKey, uint16_t> bhint;
    if (const sl_tables *t = region_.published()) {
        std::map<uint16_t, const Service *> by_sid;
        for (uint32_t sid = 0; sid < std::min<uint32_t>(t->n_services, SL_MAX_SERVICES); sid++) {
            const sl_service &ps = t->services[sid];
            if (!(ps.flags & SL_SVC_ACTIVE)) {
                continue;
            }
            for (const Service &s : services) {
                if (s.vip.family == ps.family && std::memcmp(s.vip.bytes.data(), ps.vip, 16) == 0 &&
                    htons(s.port) == ps.port && s.proto == ps.proto) {
                    shint[s.name] = static_cast<uint16_t>(sid);
                    by_sid[static_cast<uint16_t>(sid)] = &s;
                }
            }
        }
        for (uint32_t bid = 0; bid < std::min<uint32_t>(t->n_backends, SL_MAX_BACKENDS); bid++) {
            const sl_backend &pb = t->backends[bid];
            auto it = by_sid.find(pb.service_id);
            if (pb.family == 0 || it == by_sid.end()) {
                continue;
            }
            for (const Backend &b : it->second->backends) {
                if (b.address.family == pb.family &&
                    std::memcmp(b.address.bytes.data(), pb.addr, 16) == 0) {
                    bhint[{it->second->name, b.address}] = static_cast<uint16_t>(bid);
                }
            }
        }
        log_line("region " + region_.name() + " holds generation " +
                 std::to_string(region_.generation()) + ": republishing");
    }
    assign_ids(st.ids, services, shint, bhint);
    persist(st.overlay, st.ids);
    overlay_ = st.overlay;
    ids_ = st.ids;
    tables_ = std::make_unique<TablePublisher>(region_, seed_, cfg_.dataplane.gue_port);
    const PublishResult r = publish_locked(services, ids_, std::chrono::milliseconds(5000));
    services_ = std::move(services);
    log_line("started: " + std::to_string(services_.size()) + " services from " + cfg_.path +
             " (+ " + std::to_string(overlay_.services_added.size()) + " added, " +
             std::to_string(overlay_.services_deleted.size()) + " deleted, " +
             std::to_string(overlay_.backends.size()) + " backend changes through the API); " +
             "published generation " + std::to_string(r.generation));
}

Daemon::~Daemon() {
    shutdown();
}

void Daemon::start() {
    health_checker_ = std::make_unique<HealthChecker>(
        [this](const ProbeTarget &t, bool ok, const std::string &e) { on_probe(t, ok, e); });
    {
        auto l = lock(Clock::now() + std::chrono::seconds(5));
        set_health_targets_locked();
    }
    health_checker_->start();
    if (!control_.metrics_listen.empty()) {
        metrics_ =
            std::make_unique<MetricsServer>(control_.metrics_listen, [this] { return metrics(); });
        metrics_->start();
        log_line("metrics on http://" +
                 control_.metrics_listen.substr(0, control_.metrics_listen.rfind(':')) + ":" +
                 std::to_string(metrics_->port()) + "/metrics");
    }
    api_ = std::make_unique<ApiServer>(
        control_.socket, control_.socket_mode,
        [this](const std::string &cmd, const json &args, Clock::time_point deadline) {
            return handle(cmd, args, deadline);
        });
    api_->start();
    log_line("control API on " + control_.socket);
}

void Daemon::shutdown() {
    if (api_) {
        api_->stop();
        api_.reset();
    }
    if (health_checker_) {
        health_checker_->stop();
        health_checker_.reset();
    }
    if (metrics_) {
        metrics_->stop();
        metrics_.reset();
    }
}

void Daemon::run(const std::atomic<bool> &stop, std::atomic<bool> &reload) {
    std::string last_failure;
    std::string region_failure;
    bool retry = false; // the last health publish failed: again after the wait
    while (!stop.load()) {
        if (!region_.named()) {
            try {
                auto l = lock(Clock::now() + std::chrono::seconds(2));
                if (!region_.named()) {
                    reattach_region_locked();
                }
                region_failure.clear();
            } catch (const std::exception &e) {
                // Retried every 100 ms; logged once per distinct error.
                if (region_failure != e.what()) {
                    region_failure = e.what();
                    log_line("creating the region again failed (retrying): " + region_failure);
                }
            }
        }
        bool dirty = false;
        {
            std::unique_lock wl(wake_mu_);
            wake_cv_.wait_for(wl, std::chrono::milliseconds(100),
                              [&] { return health_dirty_ || stop.load() || reload.load(); });
            dirty = health_dirty_ || retry;
        }
        if (reload.exchange(false)) {
            try {
                auto l = lock(Clock::now() + std::chrono::seconds(10));
                const uint64_t g = reload_locked(Clock::now() + std::chrono::seconds(10));
                log_line("reloaded " + config_path_ + " (SIGHUP): generation " + std::to_string(g));
            } catch (const std::exception &e) {
                log_line(std::string("reload refused, the old state keeps serving: ") + e.what());
            }
        }
        if (dirty) {
            try {
                auto l = lock(Clock::now() + std::chrono::seconds(2));
                {
                    std::lock_guard wl(wake_mu_);
                    health_dirty_ = false;
                }
                retry = false;
                publish_locked(services_, ids_, std::chrono::milliseconds(2000));
                if (!last_failure.empty()) {
                    log_line("publishing health changes works again");
                    last_failure.clear();
                }
            } catch (const std::exception &e) {
                // Retried every 100 ms; logged once per distinct error. Not through
                // health_dirty_, which would end the wait at once: back to back, each attempt
                // holding the lock up to its deadline would shut out the API and /metrics.
                if (last_failure != e.what()) {
                    last_failure = e.what();
                    log_line("publishing a health change failed (retrying): " + last_failure);
                }
                retry = true;
            }
        }
    }
}

void Daemon::reattach_region_locked() {
    const std::string where = "/dev/shm" + region_.name();
    log_line("region " + where +
             " was removed (by hand, or by systemd-logind's RemoveIPC=yes at its user's logout) "
             "while it held generation " +
             std::to_string(region_.generation()) +
             ": creating it again and publishing the current tables there; a dataplane on the "
             "removed one restarts onto it (exit status 75)");
    Region fresh = open_region(cfg_); // may be a restarted dataplane's, already
    tables_.reset();
    region_ = std::move(fresh);
    tables_ = std::make_unique<TablePublisher>(region_, seed_, cfg_.dataplane.gue_port);
    region_reattached_++;
    try {
        const PublishResult r = publish_locked(services_, ids_, std::chrono::milliseconds(2000));
        log_line("region " + where + " created again: published generation " +
                 std::to_string(r.generation));
    } catch (const std::exception &e) {
        // The run loop publishes again, as after a failed health publish.
        log_line(std::string("region ") + where +
                 " created again; publishing failed (retrying): " + e.what());
        std::lock_guard wl(wake_mu_);
        health_dirty_ = true;
    }
}

uint64_t Daemon::generation() const {
    return region_.generation();
}

std::unique_lock<DeadlineMutex> Daemon::lock(Clock::time_point deadline) {
    std::unique_lock<DeadlineMutex> l(mu_, std::defer_lock);
    if (!l.try_lock_until(deadline)) {
        throw ApiError("timeout", "the daemon is busy (another change is being published)");
    }
    return l;
}

void Daemon::persist(const Overlay &overlay, const Ids &ids) {
    write_file_atomic(state_path_, state_to_json(PersistedState{overlay, ids}).dump(1) + "\n");
}

void Daemon::persist_change(const Overlay &overlay, const Ids &ids) {
    try {
        persist(overlay, ids);
    } catch (const std::exception &) {
        // A failure past the rename (syncing the directory) left the new
        // state in the file: the state in effect goes back in.
        restore_state_file();
        throw;
    }
}

void Daemon::restore_state_file() noexcept {
    try {
        persist(overlay_, ids_);
    } catch (const std::exception &e) {
        log_line(std::string("could not restore the state file after a change that was not "
                             "made: ") +
                 e.what());
    }
}

bool Daemon::eligible(const Service &s, const Backend &b) const {
    if (b.state != "active" || b.weight == 0) {
        return false;
    }
    if (s.health.type == "none") {
        return true;
    }
    auto it = health_.find({s.name, b.address});
    return it == health_.end() || it->second.healthy;
}

PublishResult Daemon::publish_locked(const std::vector<Service> &services, const Ids &ids,
                                     std::chrono::milliseconds deadline) {
    std::vector<TableService> in;
    in.reserve(services.size());
    std::set<std::string> open_now;
    for (const Service &s : services) {
        TableService ts{ids.services.at(s.name), &s, {}};
        bool any = false;
        for (const Backend &b : s.backends) {
            TableBackend tb{ids.backends.at({s.name, b.address}), b.address,
                            b.mac.value_or(config::Mac{}), eligible(s, b) ? b.weight : 0};
            any = any || tb.weight != 0;
            ts.backends.push_back(tb);
        }
        if (!any && !s.fail_closed) {
            // Fail open: every backend is down; keep the last healthy set.
            auto last = last_set_.find(s.name);
            for (std::size_t i = 0; i < s.backends.size() && last != last_set_.end(); i++) {
                const Backend &b = s.backends[i];
                if (b.state == "active" && b.weight != 0 && last->second.count(b.address)) {
                    ts.backends[i].weight = b.weight;
                    any = true;
                }
            }
            if (any) {
                open_now.insert(s.name);
            }
        }
        in.push_back(std::move(ts));
    }
    const PublishResult r = tables_->publish(in, deadline);
    generation_ = r.generation;
    publish_ns_ = r.duration_ns;
    publishes_++;
    const int huge = tables_->huge_pages_errno();
    if (huge != huge_pages_errno_ && (huge != 0 || huge_pages_errno_ > 0)) {
        log_line(huge == 0 ? std::string("tables on 2 MB pages again")
                           : "tables stay on 4 KB pages (MADV_COLLAPSE: " +
                                 std::string(std::strerror(huge)) +
                                 "): they work the same, a dataplane with many VIPs misses "
                                 "the TLB more");
    }
    huge_pages_errno_ = huge;
    for (const TableService &ts : in) {
        const std::string &name = ts.service->name;
        if (open_now.count(name)) {
            continue;
        }
        std::set<Address> owners;
        for (const TableBackend &b : ts.backends) {
            if (b.weight != 0) {
                owners.insert(b.address);
            }
        }
        if (!owners.empty()) {
            last_set_[name] = std::move(owners);
        }
    }
    for (const std::string &n : open_now) {
        if (!failing_open_.count(n)) {
            log_line("service " + n + ": every backend is down; failing open to the last " +
                     "healthy set (fail = \"open\")");
        }
    }
    for (const std::string &n : failing_open_) {
        if (!open_now.count(n)) {
            log_line("service " + n + ": no longer failing open");
        }
    }
    failing_open_ = std::move(open_now);
    std::erase_if(last_set_, [&](const auto &kv) {
        return std::none_of(services.begin(), services.end(),
                            [&](const Service &s) { return s.name == kv.first; });
    });
    return r;
}

void Daemon::set_health_targets_locked() {
    std::vector<ProbeTarget> targets;
    std::set<BackendKey> keys;
    for (const Service &s : services_) {
        for (const Backend &b : s.backends) {
            keys.insert({s.name, b.address});
            if (s.health.type == "none") {
                continue;
            }
            ProbeTarget t;
            t.service = s.name;
            t.address = b.address;
            t.port = s.health.port ? *s.health.port : (s.port != 0 ? s.port : 80);
            t.check = s.health;
            targets.push_back(t);
        }
    }
    std::erase_if(health_, [&](const auto &kv) { return !keys.count(kv.first); });
    if (health_checker_) {
        health_checker_->set_targets(std::move(targets));
    }
}

void Daemon::on_probe(const ProbeTarget &t, bool ok, const std::string &error) {
    std::unique_lock<DeadlineMutex> l(mu_, std::defer_lock);
    if (!l.try_lock_until(Clock::now() + std::chrono::seconds(2))) {
        return; // a long publish: this probe's result is skipped, the next one counts
    }
    const Service *s = find(t.service);
    if (s == nullptr) {
        return;
    }
    bool present = false;
    for (const Backend &b : s->backends) {
        present = present || b.address == t.address;
    }
    if (!present) {
        return;
    }
    Health &h = health_[{t.service, t.address}];
    if (h.since == 0) {
        h.since = unix_now();
    }
    const std::string who =
        "service " + t.service + " backend " + config::format_address(t.address);
    bool changed = false;
    if (ok) {
        h.ok_run++;
        h.fail_run = 0;
        if (!h.healthy && h.ok_run >= t.check.rise) {
            h.healthy = true;
            h.since = unix_now();
            changed = true;
            log_line(who + ": UP after " + std::to_string(h.ok_run) + " good " + t.check.type +
                     " checks");
        }
    } else {
        h.fail_run++;
        h.ok_run = 0;
        h.last_error = error;
        if (h.healthy && h.fail_run >= t.check.fall) {
            h.healthy = false;
            h.since = unix_now();
            changed = true;
            log_line(who + ": DOWN after " + std::to_string(h.fail_run) + " failed " +
                     t.check.type + " checks (" + error + ")");
        }
    }
    if (changed) {
        std::lock_guard wl(wake_mu_);
        health_dirty_ = true;
        wake_cv_.notify_all();
    }
}

uint64_t Daemon::change(Overlay next, Clock::time_point deadline) {
    std::vector<Service> services = apply_overlay(cfg_.services, next);
    try {
        config::validate_services(services, cfg_.dataplane, cfg_.path, config::Naming::ByName);
    } catch (const config::ConfigError &e) {
        throw ApiError("invalid", e.what());
    }
    Ids ids = ids_;
    assign_ids(ids, services);
    persist_and_publish_locked(next, ids, services, deadline, "the change was not made: ");
    return adopt_locked(std::move(next), std::move(ids), std::move(services));
}

void Daemon::persist_and_publish_locked(const Overlay &next, const Ids &ids,
                                        const std::vector<Service> &services,
                                        Clock::time_point deadline, const std::string &not_done) {
    try {
        persist_change(next, ids);
    } catch (const std::exception &e) {
        throw ApiError("persist_failed", not_done + e.what());
    }
    try {
        publish_locked(services, ids, left(deadline));
    } catch (const std::exception &e) {
        restore_state_file();
        publish_failures_++;
        const auto *se = dynamic_cast<const SysError *>(&e);
        throw ApiError(se != nullptr && se->code() == ETIMEDOUT ? "timeout" : "publish_failed",
                       not_done + e.what());
    }
}

uint64_t Daemon::adopt_locked(Overlay next, Ids ids, std::vector<Service> services) {
    overlay_ = std::move(next);
    ids_ = std::move(ids);
    services_ = std::move(services);
    set_health_targets_locked();
    return generation_;
}

uint64_t Daemon::reload_locked(Clock::time_point deadline) {
    config::Config c;
    try {
        c = config::load(config_path_);
    } catch (const config::ConfigError &e) {
        throw ApiError("invalid", e.what());
    }
    Overlay next = overlay_;
    const std::vector<std::string> dropped = prune_overlay(next, c.services);
    std::vector<Service> services = apply_overlay(c.services, next);
    try {
        config::validate_services(services, c.dataplane, c.path, config::Naming::ByName);
    } catch (const config::ConfigError &e) {
        throw ApiError("invalid",
                       std::string("the config file with the API changes is invalid: ") + e.what());
    }
    Ids ids = ids_;
    assign_ids(ids, services);
    persist_and_publish_locked(next, ids, services, deadline, "reload not done: ");
    for (const std::string &l : dropped) {
        log_line(l);
    }
    if (c.control.socket != cfg_.control.socket ||
        c.control.socket_mode != cfg_.control.socket_mode ||
        c.control.state_dir != cfg_.control.state_dir ||
        c.control.metrics_listen != cfg_.control.metrics_listen ||
        c.dataplane.instance != cfg_.dataplane.instance || c.seed != cfg_.seed ||
        c.dataplane.gue_port != cfg_.dataplane.gue_port) {
        log_line("changes to [control], dataplane.instance, dataplane.gue_port or seed take "
                 "effect when sluice-control restarts");
        c.control = cfg_.control;
        c.dataplane.instance = cfg_.dataplane.instance;
        c.dataplane.gue_port = cfg_.dataplane.gue_port;
        c.seed = cfg_.seed;
    }
    cfg_ = std::move(c);
    return adopt_locked(std::move(next), std::move(ids), std::move(services));
}

const Service *Daemon::find(const std::string &name) const {
    for (const Service &s : services_) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

json Daemon::service_summary(const Service &s) const {
    unsigned healthy = 0;
    unsigned owners = 0;
    for (const Backend &b : s.backends) {
        auto it = health_.find({s.name, b.address});
        healthy += (s.health.type == "none" || it == health_.end() || it->second.healthy) ? 1 : 0;
        owners += eligible(s, b) ? 1 : 0;
    }
    json j = service_settings_json(s);
    j["id"] = ids_.services.at(s.name);
    j["backends"] = s.backends.size();
    j["healthy"] = healthy;
    j["active"] = owners;
    j["failing_open"] = failing_open_.count(s.name) > 0;
    j["source"] = s.line != 0 ? "config" : "api";
    j["generation"] = generation_;
    return j;
}

json Daemon::backends_json(const Service &s) const {
    // Slots per backend id in the published table of this service.
    std::map<uint16_t, uint32_t> slots;
    if (const std::vector<uint16_t> *t = tables_->table_of(ids_.services.at(s.name))) {
        for (uint16_t id : *t) {
            slots[id]++;
        }
    }
    json out = json::array();
    for (const Backend &b : s.backends) {
        json j = backend_to_json(b);
        const uint16_t id = ids_.backends.at({s.name, b.address});
        auto it = health_.find({s.name, b.address});
        const bool up = s.health.type == "none" || it == health_.end() || it->second.healthy;
        j["id"] = id;
        j["health"] = s.health.type == "none" ? "unchecked" : up ? "healthy" : "unhealthy";
        j["slots"] = slots.count(id) ? slots[id] : 0;
        if (!b.mac) {
            j["mac"] = nullptr;
        }
        out.push_back(j);
    }
    return out;
}

json Daemon::status_locked() {
    json workers = json::array();
    const sl_dp_area *dp = region_.dp();
    const bool dp_init = __atomic_load_n(&dp->magic, __ATOMIC_ACQUIRE) == SL_DP_MAGIC;
    const pid_t dp_pid = dp_init ? __atomic_load_n(&dp->pid, __ATOMIC_RELAXED) : 0;
    for (unsigned i = 0; i < SL_MAX_WORKERS; i++) {
        const sl_worker_state &w = dp->workers[i];
        if (__atomic_load_n(&w.run, __ATOMIC_ACQUIRE) == SL_WORKER_FREE) {
            continue;
        }
        workers.push_back(
            {{"id", i},
             {"lcore", __atomic_load_n(&w.lcore, __ATOMIC_RELAXED)},
             {"pid", __atomic_load_n(&w.pid, __ATOMIC_RELAXED)},
             {"alive", worker_alive(w)},
             {"observed_generation", __atomic_load_n(&w.observed_generation, __ATOMIC_ACQUIRE)},
             {"loop_tsc", __atomic_load_n(&w.loop_tsc, __ATOMIC_RELAXED)},
             {"busy_tsc", __atomic_load_n(&w.busy_tsc, __ATOMIC_RELAXED)},
             {"tsc_hz", __atomic_load_n(&w.tsc_hz, __ATOMIC_RELAXED)}});
    }
    const bool alive = dp_pid > 0 && (::kill(dp_pid, 0) == 0 || errno == EPERM);
    const uint8_t kind = dp_init ? dp->kind : 0;
    return {{"version", kVersion},
            {"pid", ::getpid()},
            {"uptime_s",
             std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count()},
            {"config", cfg_.path},
            {"state_file", state_path_},
            {"instance", cfg_.dataplane.instance},
            {"metrics", metrics_ ? json(cfg_.control.metrics_listen.substr(
                                            0, cfg_.control.metrics_listen.rfind(':')) +
                                        ":" + std::to_string(metrics_->port()))
                                 : json(nullptr)},
            {"generation", region_.generation()},
            {"publish_ns", publish_ns_},
            {"tables_huge_pages", huge_pages_errno_ == 0},
            {"services", services_.size()},
            {"dataplane",
             {{"kind", kind == 'd'   ? "dpdk"
                       : kind == 'x' ? "xdp"
                                     : cfg_.dataplane.kind},
              {"pid", dp_pid},
              {"alive", alive},
              {"workers", workers}}}};
}

json Daemon::lookup_locked(const json &args) {
    only_args(args, {"service", "src", "sport", "dst", "dport", "proto"});
    const std::string name = str_arg(args, "service");
    const Service *s = find(name);
    if (s == nullptr) {
        throw ApiError("not_found", "service '" + name + "' does not exist");
    }
    auto port_arg = [&](const char *key, uint16_t dflt) -> uint16_t {
        if (!args.contains(key)) {
            return dflt;
        }
        if (!args[key].is_number_unsigned() || args[key].get<uint64_t>() > 65535) {
            throw ApiError("bad_request", std::string(key) + " must be an integer 0..65535");
        }
        return static_cast<uint16_t>(args[key].get<uint64_t>());
    };
    const Address src = addr_arg(args, "src");
    const Address dst = args.contains("dst") ? addr_arg(args, "dst") : s->vip;
    if (src.family != dst.family) {
        throw ApiError("bad_request", "src and dst must be of the same address family");
    }
    uint8_t proto = s->proto;
    if (args.contains("proto")) {
        const std::string p = str_arg(args, "proto");
        if (p != "tcp" && p != "udp") {
            throw ApiError("bad_request", "proto must be \"tcp\" or \"udp\"");
        }
        proto = p == "tcp" ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
    }
    sl_pkt pkt{};
    pkt.frag = SL_FRAG_NONE;
    pkt.l4_proto = proto;
    std::memcpy(pkt.key.src, src.bytes.data(), 16);
    std::memcpy(pkt.key.dst, dst.bytes.data(), 16);
    pkt.key.sport = htons(port_arg("sport", 0));
    pkt.key.dport = htons(port_arg("dport", s->port));
    pkt.key.proto = proto;
    pkt.key.family = src.family;
    const sl_tables *t = region_.published();
    if (t == nullptr) {
        throw ApiError("internal", "nothing published yet");
    }
    const sl_decision d = sl_decide(t, &pkt);
    json r = {{"hash", d.hash}, {"slot", d.slot}, {"generation", t->generation}};
    r["service"] = nullptr;
    r["backend"] = nullptr;
    for (const auto &[n, id] : ids_.services) {
        if (id == d.service_id) {
            r["service"] = n;
        }
    }
    for (const auto &[k, id] : ids_.backends) {
        if (id == d.backend_id) {
            r["backend"] = config::format_address(k.second);
        }
    }
    if (d.service_id != SL_DECIDE_NONE) {
        r["service_id"] = d.service_id;
    }
    if (d.backend_id != SL_DECIDE_NONE) {
        r["backend_id"] = d.backend_id;
    }
    if (d.drop != SL_DROP_NONE) {
        r["drop"] = sl_drop_name(d.drop);
    }
    return r;
}

json Daemon::handle(const std::string &cmd, const json &args, Clock::time_point deadline) {
    if (cmd == "check") {
        only_args(args, {"path"});
        const std::string path = str_arg(args, "path");
        try {
            config::load(path);
        } catch (const config::ConfigError &e) {
            throw ApiError("invalid", e.what());
        }
        return {{"ok", true}};
    }
    static const std::set<std::string> known = {
        "status",        "service.list",    "service.show",   "service.add",
        "service.del",   "backend.list",    "backend.add",    "backend.del",
        "backend.drain", "backend.undrain", "backend.weight", "health",
        "stats",         "lookup",          "table",          "reload"};
    if (!known.count(cmd)) {
        throw ApiError("unknown_command", "unknown command \"" + cmd + "\"");
    }
    auto l = lock(deadline);
    if (cmd == "status") {
        only_args(args, {});
        return status_locked();
    }
    if (cmd == "service.list") {
        only_args(args, {});
        json list = json::array();
        for (const Service &s : services_) {
            list.push_back(service_summary(s));
        }
        return {{"services", list}};
    }
    auto need_service = [&](const char *key) -> const Service & {
        const std::string name = str_arg(args, key);
        const Service *s = find(name);
        if (s == nullptr) {
            throw ApiError("not_found", "service '" + name + "' does not exist");
        }
        return *s;
    };
    if (cmd == "service.show") {
        only_args(args, {"name"});
        const Service &s = need_service("name");
        json j = service_to_json(s);
        const json sum = service_summary(s);
        for (const char *k : {"id", "healthy", "active", "failing_open", "source"}) {
            j[k] = sum[k];
        }
        j["backends"] = backends_json(s);
        return {{"service", j}};
    }
    if (cmd == "service.add") {
        Service s;
        try {
            s = service_from_json(args, "service");
        } catch (const config::ConfigError &e) {
            throw ApiError("bad_request", e.what());
        }
        if (find(s.name) != nullptr) {
            throw ApiError("exists", "service '" + s.name + "' exists");
        }
        Overlay next = overlay_;
        next.services_added[s.name] = s;
        return {{"generation", change(std::move(next), deadline)}};
    }
    if (cmd == "service.del") {
        only_args(args, {"name"});
        const Service &s = need_service("name");
        const std::string name = s.name;
        Overlay next = overlay_;
        if (next.services_added.erase(name) == 0) {
            next.services_deleted.insert(name);
        }
        std::erase_if(next.backends, [&](const auto &kv) { return kv.first.first == name; });
        return {{"generation", change(std::move(next), deadline)}};
    }
    if (cmd == "backend.list") {
        only_args(args, {"service"});
        return {{"backends", backends_json(need_service("service"))}};
    }
    if (cmd == "backend.add") {
        only_args(args, {"service", "address", "mac", "weight", "state"});
        const Service &s = need_service("service");
        json bj = args;
        bj.erase("service");
        if (!bj.contains("address")) {
            throw ApiError("bad_request", "missing argument \"address\"");
        }
        Backend b;
        try {
            b = backend_from_json(bj, "backend");
        } catch (const config::ConfigError &e) {
            throw ApiError("bad_request", e.what());
        }
        for (const Backend &x : s.backends) {
            if (x.address == b.address) {
                throw ApiError("exists", "backend " + config::format_address(b.address) +
                                             " of service '" + s.name + "' exists");
            }
        }
        Overlay next = overlay_;
        auto added = next.services_added.find(s.name);
        if (added != next.services_added.end() && s.line == 0) {
            added->second.backends.push_back(b);
        } else {
            const BackendKey k{s.name, b.address};
            const Backend *fb = file_backend(cfg_.services, s.name, b.address);
            if (fb == nullptr) {
                BackendChange c;
                c.kind = BackendChange::Kind::Added;
                c.added = b;
                next.backends[k] = c;
            } else {
                record_override(next, k, b, *fb);
            }
        }
        return {{"generation", change(std::move(next), deadline)}};
    }
    if (cmd == "backend.del" || cmd == "backend.drain" || cmd == "backend.undrain" ||
        cmd == "backend.weight") {
        if (cmd == "backend.weight") {
            only_args(args, {"service", "address", "weight"});
        } else {
            only_args(args, {"service", "address"});
        }
        const Service &s = need_service("service");
        const Address a = addr_arg(args, "address");
        const Backend *cur = nullptr;
        for (const Backend &x : s.backends) {
            cur = x.address == a ? &x : cur;
        }
        if (cur == nullptr) {
            throw ApiError("not_found",
                           "service '" + s.name + "' has no backend " + config::format_address(a));
        }
        Backend b = *cur;
        if (cmd == "backend.drain") {
            b.state = "drained";
        } else if (cmd == "backend.undrain") {
            b.state = "active";
        } else if (cmd == "backend.weight") {
            if (!args.contains("weight") || !args["weight"].is_number_integer() ||
                args["weight"].get<int64_t>() < 0 || args["weight"].get<int64_t>() > 65535) {
                throw ApiError("bad_request", "weight must be an integer 0..65535");
            }
            b.weight = static_cast<uint32_t>(args["weight"].get<int64_t>());
        }
        Overlay next = overlay_;
        auto added = next.services_added.find(s.name);
        if (added != next.services_added.end() && s.line == 0) {
            auto &v = added->second.backends;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (it->address == a) {
                    if (cmd == "backend.del") {
                        v.erase(it);
                    } else {
                        *it = b;
                    }
                    break;
                }
            }
        } else {
            const Backend *fb = file_backend(cfg_.services, s.name, a);
            const BackendKey k{s.name, a};
            if (cmd == "backend.del") {
                if (fb != nullptr) {
                    BackendChange c;
                    c.kind = BackendChange::Kind::Deleted;
                    next.backends[k] = c;
                } else {
                    next.backends.erase(k);
                }
            } else if (fb == nullptr) {
                next.backends[k].added = b;
            } else {
                record_override(next, k, b, *fb);
            }
        }
        return {{"generation", change(std::move(next), deadline)}};
    }
    if (cmd == "health") {
        only_args(args, {"service"});
        json list = json::array();
        const Service *only = args.contains("service") ? &need_service("service") : nullptr;
        for (const Service &s : services_) {
            if (only != nullptr && only != &s) {
                continue;
            }
            json bl = json::array();
            for (const Backend &b : s.backends) {
                auto it = health_.find({s.name, b.address});
                json e = {{"address", config::format_address(b.address)},
                          {"healthy",
                           s.health.type == "none" || it == health_.end() || it->second.healthy},
                          {"check", s.health.type}};
                e["since"] = it != health_.end() && it->second.since != 0
                                 ? json(utc_time(it->second.since))
                                 : json(nullptr);
                e["last_error"] = it != health_.end() && !it->second.last_error.empty()
                                      ? json(it->second.last_error)
                                      : json(nullptr);
                bl.push_back(e);
            }
            list.push_back({{"name", s.name}, {"backends", bl}});
        }
        return {{"services", list}};
    }
    if (cmd == "stats") {
        only_args(args, {});
        const sl_dp_area *dp = region_.dp();
        auto sum = [&](auto pick) {
            uint64_t total = 0;
            for (unsigned w = 0; w < SL_MAX_WORKERS; w++) {
                total += __atomic_load_n(pick(dp->counters[w]), __ATOMIC_RELAXED);
            }
            return total;
        };
        json list = json::array();
        for (const Service &s : services_) {
            const uint16_t sid = ids_.services.at(s.name);
            json bl = json::array();
            for (const Backend &b : s.backends) {
                const uint16_t bid = ids_.backends.at({s.name, b.address});
                bl.push_back(
                    {{"address", config::format_address(b.address)},
                     {"packets",
                      sum([&](const sl_worker_counters &c) { return &c.backends[bid].packets; })},
                     {"bytes",
                      sum([&](const sl_worker_counters &c) { return &c.backends[bid].bytes; })}});
            }
            list.push_back(
                {{"name", s.name},
                 {"packets",
                  sum([&](const sl_worker_counters &c) { return &c.services[sid].packets; })},
                 {"bytes",
                  sum([&](const sl_worker_counters &c) { return &c.services[sid].bytes; })},
                 {"backends", bl}});
        }
        json drops = json::object();
        for (unsigned r = 1; r < SL_DROP_COUNT; r++) {
            drops[sl_drop_name(r)] = sum([&](const sl_worker_counters &c) { return &c.drops[r]; });
        }
        json ports = json::array();
        const uint32_t n_ports = dp_ports(dp);
        for (uint32_t p = 0; p < n_ports; p++) {
            const sl_port_stats &ps = dp->port_stats[p];
            auto rd = [](const uint64_t &v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); };
            ports.push_back(
                {{"port", p},
                 {"name", sluice::port_name(ps)},
                 {"rx_packets",
                  sum([&](const sl_worker_counters &c) { return &c.ports[p].rx.packets; })},
                 {"rx_bytes",
                  sum([&](const sl_worker_counters &c) { return &c.ports[p].rx.bytes; })},
                 {"tx_packets",
                  sum([&](const sl_worker_counters &c) { return &c.ports[p].tx.packets; })},
                 {"tx_bytes",
                  sum([&](const sl_worker_counters &c) { return &c.ports[p].tx.bytes; })},
                 {"rx_missed", rd(ps.rx_missed)},
                 {"rx_errors", rd(ps.rx_errors)},
                 {"rx_nombuf", rd(ps.rx_nombuf)},
                 {"tx_errors", rd(ps.tx_errors)}});
        }
        return {{"generation", region_.generation()},
                {"services", list},
                {"drops", drops},
                {"ports", ports}};
    }
    if (cmd == "lookup") {
        return lookup_locked(args);
    }
    if (cmd == "table") {
        only_args(args, {"service"});
        const Service &s = need_service("service");
        const sl_tables *t = region_.published();
        const uint16_t sid = ids_.services.at(s.name);
        json bl = json::array();
        uint32_t size = 0;
        if (t != nullptr && t->services[sid].table_size != 0) {
            const sl_service &ps = t->services[sid];
            size = ps.table_size;
            const auto shares = maglev::slot_shares(maglev::read_table(*t, ps));
            for (const maglev::Share &sh : shares) {
                std::string addr = "?";
                for (const auto &[k, id] : ids_.backends) {
                    if (id == sh.id && k.first == s.name) {
                        addr = config::format_address(k.second);
                    }
                }
                bl.push_back({{"address", addr},
                              {"id", sh.id},
                              {"slots", sh.slots},
                              {"share", sh.fraction}});
            }
        }
        return {{"service", s.name},
                {"size", size},
                {"generation", t != nullptr ? t->generation : 0},
                {"backends", bl}};
    }
    if (cmd == "reload") {
        only_args(args, {});
        return {{"generation", reload_locked(deadline)}};
    }
    throw ApiError("unknown_command", "unknown command \"" + cmd + "\"");
}

std::string Daemon::metrics() {
    std::ostringstream o;
    auto l = lock(Clock::now() + std::chrono::seconds(2));
    const sl_dp_area *dp = region_.dp();
    auto sum = [&](auto pick) {
        uint64_t total = 0;
        for (unsigned w = 0; w < SL_MAX_WORKERS; w++) {
            total += __atomic_load_n(pick(dp->counters[w]), __ATOMIC_RELAXED);
        }
        return total;
    };
    auto esc = [](const std::string &s) {
        std::string out;
        for (char c : s) {
            if (c == '\\' || c == '"') {
                out += '\\';
            }
            out += c == '\n' ? 'n' : c;
        }
        return out;
    };
    o << "# HELP sluice_service_packets_total Packets forwarded to the service.\n"
         "# TYPE sluice_service_packets_total counter\n";
    for (const Service &s : services_) {
        const uint16_t sid = ids_.services.at(s.name);
        o << "sluice_service_packets_total{service=\"" << esc(s.name) << "\"} "
          << sum([&](const sl_worker_counters &c) { return &c.services[sid].packets; }) << "\n";
    }
    o << "# HELP sluice_service_bytes_total Bytes forwarded to the service.\n"
         "# TYPE sluice_service_bytes_total counter\n";
    for (const Service &s : services_) {
        const uint16_t sid = ids_.services.at(s.name);
        o << "sluice_service_bytes_total{service=\"" << esc(s.name) << "\"} "
          << sum([&](const sl_worker_counters &c) { return &c.services[sid].bytes; }) << "\n";
    }
    o << "# HELP sluice_backend_packets_total Packets forwarded to the backend.\n"
         "# TYPE sluice_backend_packets_total counter\n";
    std::ostringstream bytes, health, slots;
    bytes << "# HELP sluice_backend_bytes_total Bytes forwarded to the backend.\n"
             "# TYPE sluice_backend_bytes_total counter\n";
    health << "# HELP sluice_backend_healthy 1 when the backend passes its health check.\n"
              "# TYPE sluice_backend_healthy gauge\n";
    slots << "# HELP sluice_backend_in_table 1 when the backend owns slots of the table.\n"
             "# TYPE sluice_backend_in_table gauge\n";
    for (const Service &s : services_) {
        for (const Backend &b : s.backends) {
            const uint16_t bid = ids_.backends.at({s.name, b.address});
            const std::string labels = "{service=\"" + esc(s.name) + "\",backend=\"" +
                                       config::format_address(b.address) + "\"} ";
            o << "sluice_backend_packets_total" << labels
              << sum([&](const sl_worker_counters &c) { return &c.backends[bid].packets; }) << "\n";
            bytes << "sluice_backend_bytes_total" << labels
                  << sum([&](const sl_worker_counters &c) { return &c.backends[bid].bytes; })
                  << "\n";
            auto it = health_.find({s.name, b.address});
            health << "sluice_backend_healthy" << labels
                   << ((s.health.type == "none" || it == health_.end() || it->second.healthy) ? 1
                                                                                              : 0)
                   << "\n";
            slots << "sluice_backend_in_table" << labels << (eligible(s, b) ? 1 : 0) << "\n";
        }
    }
    o << bytes.str() << health.str() << slots.str();
    o << "# HELP sluice_drops_total Packets dropped by the dataplane, by reason.\n"
         "# TYPE sluice_drops_total counter\n";
    for (unsigned r = 1; r < SL_DROP_COUNT; r++) {
        o << "sluice_drops_total{reason=\"" << sl_drop_name(r) << "\"} "
          << sum([&](const sl_worker_counters &c) { return &c.drops[r]; }) << "\n";
    }
    {
        const uint32_t n_ports = dp_ports(dp);
        struct PortMetric {
            const char *what;
            uint64_t sl_port_stats::*field;
            const char *help;
        };
        const PortMetric port_metrics[] = {
            {"rx_missed", &sl_port_stats::rx_missed,
             "Frames the port's NIC or kernel dropped before sluice saw them."},
            {"rx_errors", &sl_port_stats::rx_errors,
             "Frames the port's driver received with errors."},
            {"rx_nombuf", &sl_port_stats::rx_nombuf,
             "Frames the port's driver dropped for want of an mbuf."},
            {"tx_errors", &sl_port_stats::tx_errors, "Frames the port's driver failed to send."}};
        for (const PortMetric &m : port_metrics) {
            o << "# HELP sluice_port_" << m.what << "_total " << m.help << "\n"
              << "# TYPE sluice_port_" << m.what << "_total counter\n";
            for (uint32_t p = 0; p < n_ports; p++) {
                const sl_port_stats &ps = dp->port_stats[p];
                o << "sluice_port_" << m.what << "_total{port=\"" << esc(sluice::port_name(ps))
                  << "\"} " << __atomic_load_n(&(ps.*m.field), __ATOMIC_RELAXED) << "\n";
            }
        }
    }
    o << "# HELP sluice_table_generation The published table generation.\n"
         "# TYPE sluice_table_generation gauge\n"
      << "sluice_table_generation " << region_.generation() << "\n";
    o << "# HELP sluice_publish_duration_seconds Time of the last publish (waiting for workers, "
         "writing the standby copy, committing).\n"
         "# TYPE sluice_publish_duration_seconds gauge\n"
      << "sluice_publish_duration_seconds " << static_cast<double>(publish_ns_) / 1e9 << "\n";
    o << "# HELP sluice_tables_huge_pages 1 when the last published table copy is on 2 MB "
         "pages, 0 when the kernel kept it on 4 KB pages.\n"
         "# TYPE sluice_tables_huge_pages gauge\n"
      << "sluice_tables_huge_pages " << (huge_pages_errno_ == 0 ? 1 : 0) << "\n";
    o << "# HELP sluice_publishes_total Generations published by this process.\n"
         "# TYPE sluice_publishes_total counter\n"
      << "sluice_publishes_total " << publishes_ << "\n";
    o << "# HELP sluice_region_recreated_total Times the shared region's name was found removed "
         "and the region created again.\n"
         "# TYPE sluice_region_recreated_total counter\n"
      << "sluice_region_recreated_total " << region_reattached_ << "\n";
    o << "# HELP sluice_publish_failures_total Publishes that failed (the change was refused).\n"
         "# TYPE sluice_publish_failures_total counter\n"
      << "sluice_publish_failures_total " << publish_failures_ << "\n";
    o << "# HELP sluice_worker_observed_generation The generation each dataplane worker uses.\n"
         "# TYPE sluice_worker_observed_generation gauge\n";
    for (unsigned i = 0; i < SL_MAX_WORKERS; i++) {
        const sl_worker_state &w = dp->workers[i];
        if (__atomic_load_n(&w.run, __ATOMIC_ACQUIRE) == SL_WORKER_RUNNING) {
            o << "sluice_worker_observed_generation{worker=\"" << i << "\"} "
              << __atomic_load_n(&w.observed_generation, __ATOMIC_ACQUIRE) << "\n";
        }
    }
    // A poll-mode core always shows 100% CPU: busy / loop over an interval
    // (rate() of both) is how much of it the traffic used.
    const char *const names[2] = {"loop", "busy"};
    const char *const help[2] = {"Seconds each dataplane worker has run its loop.",
                                 "Seconds of that loop spent on polls that brought packets."};
    for (int k = 0; k < 2; k++) {
        o << "# HELP sluice_worker_" << names[k] << "_seconds_total " << help[k] << "\n"
          << "# TYPE sluice_worker_" << names[k] << "_seconds_total counter\n";
        for (unsigned i = 0; i < SL_MAX_WORKERS; i++) {
            const sl_worker_state &w = dp->workers[i];
            const uint64_t hz = __atomic_load_n(&w.tsc_hz, __ATOMIC_RELAXED);
            if (__atomic_load_n(&w.run, __ATOMIC_ACQUIRE) != SL_WORKER_RUNNING || hz == 0) {
                continue;
            }
            const uint64_t tsc =
                __atomic_load_n(k == 0 ? &w.loop_tsc : &w.busy_tsc, __ATOMIC_RELAXED);
            o << "sluice_worker_" << names[k] << "_seconds_total{worker=\"" << i << "\"} "
              << static_cast<double>(tsc) / static_cast<double>(hz) << "\n";
        }
    }
    return o.str();
}

} // namespace sluice::control

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "sluice/region.h"

namespace sluice::dp {

// Registers the /sluice/... telemetry commands, which read hdr and dp until
// telemetry_unregister (DPDK's telemetry thread outlives rte_eal_cleanup).
bool telemetry_register(const sl_region_header *hdr, const sl_dp_area *dp, unsigned n_ports);

// From its return on, no command reads the region: they answer an error.
// Call it before the region is unmapped.
void telemetry_unregister() noexcept;

// telemetry_unregister at the end of a scope.
struct TelemetryRegistration {
    TelemetryRegistration() = default;
    TelemetryRegistration(const TelemetryRegistration &) = delete;
    TelemetryRegistration &operator=(const TelemetryRegistration &) = delete;
    ~TelemetryRegistration() { telemetry_unregister(); }
};

} // namespace sluice::dp

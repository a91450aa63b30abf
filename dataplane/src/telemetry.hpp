// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "sluice/region.h"

namespace sluice::dp {

// Registers the /sluice/... telemetry commands. The pointers must outlive
// the EAL (the telemetry thread reads them until rte_eal_cleanup).
bool telemetry_register(const sl_region_header *hdr, const sl_dp_area *dp, unsigned n_ports);

} // namespace sluice::dp

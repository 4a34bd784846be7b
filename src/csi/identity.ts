// CSI Identity service. Idempotency: every RPC is a pure read (name, capabilities, readiness).
// Probe answers ready=true as long as the process serves; `isReady` lets a caller report a dependency
// (e.g. the API server) as not ready, which Probe returns as ready=false rather than an error.

import { pluginCapabilities, type DriverCapabilities } from "./capabilities.ts";
import type { ServiceHandlers } from "./server.ts";
import type { GetPluginCapabilitiesResponse, GetPluginInfoResponse, ProbeResponse } from "./types.ts";

export function identityService(driver: DriverCapabilities, isReady: () => boolean = () => true): ServiceHandlers {
  return {
    async GetPluginInfo(): Promise<GetPluginInfoResponse> {
      return { name: driver.name, vendor_version: driver.vendorVersion, manifest: {} };
    },
    async GetPluginCapabilities(): Promise<GetPluginCapabilitiesResponse> {
      return pluginCapabilities(driver);
    },
    async Probe(): Promise<ProbeResponse> {
      return { ready: { value: isReady() } };
    },
  };
}

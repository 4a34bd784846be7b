// A LocalVolumeMigrate as a user writes it (docs/migration.md), for `kubectl apply -f -` in end-to-end tests.

/** `migrate-<volume>` from `source` to the first of `targets` that qualifies, the whole volume group. */
export const localVolumeMigrateYaml = (volume: string, source: string, targets: string[]): string =>
  `apiVersion: hwameistor.io/v1alpha1
kind: LocalVolumeMigrate
metadata: {name: migrate-${volume}}
spec: {volumeName: ${volume}, sourceNode: ${source}, targetNodesSuggested: [${targets.join(", ")}], migrateAllVols: true}
`;

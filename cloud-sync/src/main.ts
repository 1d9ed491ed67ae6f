// The cloud service (MySQL-backed guardian relay) arrives with its own issue; this workspace
// exists now so the repository layout in DESIGN.md is stable for scripts and the image build.
export const CLOUD_SYNC_STATUS = 'not implemented yet' as const

/**
 * Command headers (SendOptions.headers): a JSON object of text values, NULL when a command
 * carries none. Adding a nullable column without a default is a catalogue-only change: no
 * row is rewritten, existing commands read back with no headers, and a command without
 * headers stores nothing more than a bit in the row's null bitmap.
 */
export const up = `
ALTER TABLE $SCHEMA.commands ADD COLUMN headers jsonb;
`;

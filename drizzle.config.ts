import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate` writes the SQL for schema changes into migrations/;
// nodes apply pending migrations when they start.
export default defineConfig({
  dialect: "sqlite",
  schema: ["./src/storage/schema.ts", "./src/storage/chat-schema.ts"],
  out: "./migrations",
});

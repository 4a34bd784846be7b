import "@mantine/core/styles.css";
import "./app.css";
import { MantineProvider, createTheme, type CSSVariablesResolver } from "@mantine/core";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

// respectReducedMotion: no transitions for people (and browsers) that ask for reduced motion.
const theme = createTheme({ primaryColor: "blue", primaryShade: 9, defaultRadius: "sm", respectReducedMotion: true });
// Dimmed text must still reach 4.5:1 on white (WCAG AA): gray.7 instead of Mantine's gray.6.
const resolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)", "--mantine-color-placeholder": "var(--mantine-color-gray-7)" },
  dark: {},
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme} cssVariablesResolver={resolver} defaultColorScheme="light">
      <App />
    </MantineProvider>
  </StrictMode>,
);

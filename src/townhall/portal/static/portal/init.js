// Start GOV.UK Frontend's components on every portal page. It is a file rather than an inline
// script so that the Content Security Policy needs no exception for it.
import { initAll } from "../vendor/govuk-frontend/govuk-frontend.min.js";

initAll();

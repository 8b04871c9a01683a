"""The portal: HTML pages in GOV.UK Design System style, calling the same services as the API."""

"""Small services that do not deserve a package of their own."""

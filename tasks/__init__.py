"""One @deploy per component; only deploy.py knows their order."""

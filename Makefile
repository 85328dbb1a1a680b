# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := optimiser geodata service maps

.PHONY: demo test bench install install-dev map-assets api-assets

# Leaflet for self-contained (offline) maps: the npm package, fetched at install time into a
# gitignored folder that maps/assets.py reads (never committed).
LEAFLET_VERSION := 1.9.4
LEAFLET_DIR := maps/assets/vendor/leaflet
$(LEAFLET_DIR)/.version-$(LEAFLET_VERSION):
	rm -rf $(LEAFLET_DIR) && mkdir -p $(LEAFLET_DIR)
	cd $(LEAFLET_DIR) && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null
	tar -xzf $(LEAFLET_DIR)/leaflet-$(LEAFLET_VERSION).tgz -C $(LEAFLET_DIR) --strip-components=2 package/dist
	rm -f $(LEAFLET_DIR)/leaflet-$(LEAFLET_VERSION).tgz
	touch $@
map-assets: $(LEAFLET_DIR)/.version-$(LEAFLET_VERSION)

# Swagger UI for the service's /docs page, offline likewise (service/app.py reads it)
SWAGGER_VERSION := 5.32.2
SWAGGER_DIR := service/assets/vendor/swagger-ui
$(SWAGGER_DIR)/.version-$(SWAGGER_VERSION):
	rm -rf $(SWAGGER_DIR) && mkdir -p $(SWAGGER_DIR)
	cd $(SWAGGER_DIR) && npm pack --silent swagger-ui-dist@$(SWAGGER_VERSION) >/dev/null
	tar -xzf $(SWAGGER_DIR)/swagger-ui-dist-$(SWAGGER_VERSION).tgz -C $(SWAGGER_DIR) \
		--strip-components=1 package/swagger-ui-bundle.js package/swagger-ui.css \
		package/favicon-32x32.png package/LICENSE
	rm -f $(SWAGGER_DIR)/swagger-ui-dist-$(SWAGGER_VERSION).tgz
	touch $@
api-assets: $(SWAGGER_DIR)/.version-$(SWAGGER_VERSION)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed map-assets api-assets
	$(BIN)/rcc demo

test: $(VENV)/.installed-dev map-assets api-assets
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/ruff format --check $(PACKAGES) tests
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/pytest

bench: $(VENV)/.installed-dev map-assets
	$(BIN)/pytest -o addopts="" -s -p no:cacheprovider tests/benchmarks

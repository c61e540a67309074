"""The API docs in a real browser: headless Chromium drives the Swagger UI of a live server.

Needs Chromium, chromedriver (`.ci/install-browser` installs Debian's) and selenium
(requirements-dev.txt); the test is skipped when any of them is missing.
CHROMIUM_BIN / CHROMEDRIVER_BIN override where the binaries are looked up.
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
from urllib.parse import urlsplit

import pytest

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the test skips itself
    webdriver = None

TIMEOUT = 20
USERNAME = "swagger_browser_visitor"
# Namespaces the docs must always show (the full list is read from /swagger.json).
REQUIRED_TAGS = {"users", "patients", "doctors", "departments", "affiliations", "schedules",
                 "registrations"}
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-proxy-server",
    "--window-size=1400,1000",
)


def find_binary(env_var: str, *names: str) -> str | None:
    """The executable named by env_var, else the first of names on PATH."""
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture()
def browser(tmp_path):
    """Headless Chromium with a fresh profile, recording network events (performance log)."""
    if webdriver is None:
        pytest.skip("selenium is not installed (pip install -r requirements-dev.txt)")
    chromium = find_binary("CHROMIUM_BIN", "chromium", "chromium-browser")
    chromedriver = find_binary("CHROMEDRIVER_BIN", "chromedriver")
    if not chromium or not chromedriver:
        pytest.skip("Chromium and/or chromedriver not installed (run .ci/install-browser: "
                    "apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=chromedriver,
                      log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(TIMEOUT * 3)
    driver.set_script_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        try:  # what the page showed last, for a failure's post-mortem
            driver.save_screenshot(str(tmp_path / "last-page.png"))
            (tmp_path / "last-page.html").write_text(driver.page_source)
        finally:
            driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (DevTools Network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def is_local(url: str, port: int) -> bool:
    """A request served by the test server itself, or inline data."""
    if url.startswith("data:"):
        return True
    parts = urlsplit(url)
    return (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", port)


def click(driver, element) -> None:
    """Scroll element to the middle of the viewport, wait until clickable, click it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    WebDriverWait(driver, TIMEOUT).until(ec.element_to_be_clickable(element)).click()


def test_swagger_ui_lists_namespaces_stays_local_and_executes_a_call(
        live_server, committing_db, browser, tmp_path):
    # `browser` comes after `live_server` so that it quits (closing its keep-alive
    # connections) before the server shuts down.
    user = committing_db.user(username=USERNAME)
    authorization = committing_db.headers(user)["Authorization"]
    port = urlsplit(live_server).port
    # React re-renders may replace elements between a lookup and its use: look again.
    wait = WebDriverWait(browser, TIMEOUT, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException))

    with urllib.request.urlopen(f"{live_server}/swagger.json", timeout=TIMEOUT) as response:
        tags = [tag["name"] for tag in json.load(response)["tags"]]
    assert REQUIRED_TAGS <= set(tags), tags

    # Leave the browser's start page and forget its (internal) requests first.
    browser.get("about:blank")
    requested_urls(browser)

    # Every namespace of the spec is listed as a section of the page.
    browser.get(f"{live_server}/")
    wait.until(lambda d: set(tags) <= {
        e.get_attribute("data-tag") for e in d.find_elements(By.CSS_SELECTOR, "h3.opblock-tag")})
    listed = [e.get_attribute("data-tag")
              for e in browser.find_elements(By.CSS_SELECTOR, "h3.opblock-tag")]
    assert set(listed) == set(tags), listed

    # Authorize with the token through the dialog.
    authorize = browser.find_element(By.CSS_SELECTOR, ".scheme-container button.authorize")
    assert "unlocked" in authorize.get_attribute("class").split()
    click(browser, authorize)
    dialog = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux")))
    field = dialog.find_element(By.CSS_SELECTOR, ".auth-container input:not([type=hidden])")
    field.send_keys(authorization)
    click(browser, dialog.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize"))
    wait.until(ec.visibility_of_element_located(
        (By.XPATH, "//div[@class='dialog-ux']//h6[normalize-space()='Authorized']")))
    click(browser, browser.find_element(By.CSS_SELECTOR, ".dialog-ux button.btn-done"))
    wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux")))
    wait.until(lambda d: "locked" in d.find_element(
        By.CSS_SELECTOR, ".scheme-container button.authorize").get_attribute("class").split())

    # Open the users section, then GET /users/me: Try it out -> Execute.
    click(browser, browser.find_element(By.CSS_SELECTOR, "h3.opblock-tag[data-tag='users']"))
    operation_xpath = ("//div[contains(@class, 'opblock-get')]"
                       "[.//*[contains(@class, 'opblock-summary-path')"
                       " and @data-path='/users/me']]")
    operation = wait.until(ec.visibility_of_element_located((By.XPATH, operation_xpath)))
    summary = (operation.find_elements(By.CSS_SELECTOR, ".opblock-summary-control")
               or operation.find_elements(By.CSS_SELECTOR, ".opblock-summary"))
    click(browser, summary[0])
    click(browser, wait.until(lambda d: d.find_element(
        By.XPATH, operation_xpath + "//button[contains(@class, 'try-out__btn')]")))
    click(browser, wait.until(lambda d: d.find_element(
        By.XPATH, operation_xpath + "//button[contains(@class, 'execute')]")))

    live = operation_xpath + "//table[contains(@class, 'live-responses-table')]/tbody"
    status_xpath = live + "//td[contains(@class, 'response-col_status')]"
    body_xpath = live + "//td[contains(@class, 'response-col_description')]//pre"
    status = wait.until(lambda d: d.find_element(By.XPATH, status_xpath).text.strip())
    body = wait.until(lambda d: d.find_element(By.XPATH, body_xpath).text)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});",
                           browser.find_element(By.XPATH, status_xpath))
    browser.save_screenshot(str(tmp_path / "swagger-ui-after-execute.png"))
    assert status == "200", body
    assert json.loads(body)["username"] == USERNAME

    # No request left the machine: everything came from the test server (or data: URIs).
    urls = requested_urls(browser)
    assert f"{live_server}/swagger.json" in urls
    assert f"{live_server}/users/me" in urls
    foreign = [url for url in urls if not is_local(url, port)]
    assert foreign == [], foreign

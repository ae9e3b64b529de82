"""The UI in a real browser: headless Debian Chromium driven by selenium against ``airflow standalone``.

Reuses ``test_standalone``'s fixture (a real Airflow with the examples). Logs in as ``admin`` with the generated
password, then opens the "Add connection" form for each of the provider's connection types and checks the
labels, placeholders, hidden fields and extra fields the user sees. Screenshots go to ``test-artifacts/browser/``
(gitignored) and their paths are printed. ``scripts/test.sh`` installs Chromium when it is missing and it runs
as root; without ``/usr/bin/chromium`` this test fails (it is never skipped).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.test_standalone import REPO, Airflow, airflow  # noqa: F401  (the module-scoped fixture)

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's Chromium: apt-get install -y chromium chromium-driver (scripts/test.sh does it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apf-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
        ):
            options.add_argument(arg)
        # an explicit driver path: selenium-manager never tries to download a browser or driver
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def _shot(driver: webdriver.Chrome, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def _wait_text(driver: webdriver.Chrome, text: str, timeout: float = 30) -> None:
    WebDriverWait(driver, timeout).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def _login(driver: webdriver.Chrome, airflow: Airflow) -> None:  # noqa: F811
    password = json.loads((airflow.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    driver.get(f"{airflow.url}/")
    wait = WebDriverWait(driver, 60)
    user = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
    user.send_keys("admin")
    driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(password + Keys.ENTER)
    wait.until(lambda d: "/auth/login" not in d.current_url and "login" not in d.current_url.lower())


def _open_add_connection(driver: webdriver.Chrome, airflow: Airflow, hook_name: str) -> str:  # noqa: F811
    driver.get(f"{airflow.url}/connections")
    wait = WebDriverWait(driver, 60)
    add = wait.until(ec.element_to_be_clickable((By.XPATH, "//button[contains(., 'Add Connection')]")))
    add.click()
    # the type picker is a react-select: type into its input and take the highlighted option
    try:
        picker = wait.until(lambda d: next(iter(d.find_elements(By.XPATH, "//input[@role='combobox']")), None))
        wait.until(lambda d: picker.is_enabled())
        driver.execute_script("arguments[0].focus();", picker)
        picker.send_keys(hook_name)
        wait.until(lambda d: d.find_elements(By.XPATH, f"//*[contains(@id, '-option-')][contains(., '{hook_name}')]"))
        picker.send_keys(Keys.ENTER)
    except Exception:
        _shot(driver, "failed-connection-picker")
        (ARTIFACTS / "failed-connection-picker.html").write_text(driver.page_source)
        raise
    _wait_text(driver, "Standard Fields")
    return driver.find_element(By.TAG_NAME, "body").text


def test_connection_forms_in_the_browser(airflow: Airflow, driver: webdriver.Chrome) -> None:  # noqa: F811
    _login(driver, airflow)
    _shot(driver, "01-home")

    text = _open_add_connection(driver, airflow, "LLM (OpenAI-compatible)")
    assert "Base URL" in text and "API key" in text
    assert "Login" not in text and "Port" not in text  # hidden standard fields
    placeholders = {e.get_attribute("placeholder") for e in driver.find_elements(By.TAG_NAME, "input")}
    assert "https://api.openai.com/v1" in placeholders and "sk-..." in placeholders
    _shot(driver, "02-connection-flow_llm")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)

    text = _open_add_connection(driver, airflow, "HTTP API (flow)")
    assert "Base URL" in text and "Login (basic auth)" in text and "Scheme" in text
    placeholders = {e.get_attribute("placeholder") for e in driver.find_elements(By.TAG_NAME, "input")}
    assert "https://api.example.com/v1" in placeholders
    _shot(driver, "03-connection-flow_http")

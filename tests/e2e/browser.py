"""Selenium helpers for ``test_browser``: Debian's headless Chromium, screenshots, and the few UI widgets the
tests drive (login, the connection type picker, react-select drop-downs, toasts, the log viewer).

Everything waits with ``WebDriverWait`` on a condition the page must reach; nothing sleeps a fixed time. Selectors
prefer what a person sees (button text, labels, ``aria-label``) over generated ids, so a restyled page still works.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.test_standalone import REPO

ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a throw-away profile; fails (never skips) when Debian's Chromium is missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's Chromium: apt-get install -y chromium chromium-driver (scripts/test.sh does it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apf-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
            options.add_argument(arg)
        # an explicit driver path: selenium-manager never tries to download a browser or driver
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


@dataclass
class Browser:
    """One logged-in browser session on one Airflow, with the waits the tests share."""

    driver: webdriver.Chrome
    url: str

    def wait(self, timeout: float = 60) -> WebDriverWait[webdriver.Chrome]:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.25)

    def open(self, path: str) -> None:
        self.driver.get(f"{self.url}{path}")

    def shot(self, name: str) -> Path:
        """Save ``test-artifacts/browser/<name>.png`` (and print its path: the team looks at these)."""
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path

    def save_page(self, name: str) -> None:
        """The page's screenshot and HTML, for a step that failed (what did the page show instead?)."""
        self.shot(name)
        (ARTIFACTS / f"{name}.html").write_text(self.driver.page_source)

    def body_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_text(self, text: str, timeout: float = 30) -> None:
        self.wait(timeout).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)

    def clickable(self, xpath: str, timeout: float = 60) -> WebElement:
        element: WebElement = self.wait(timeout).until(ec.element_to_be_clickable((By.XPATH, xpath)))
        return element

    def login(self, home: Path) -> None:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        self.open("/")
        user = self.wait().until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
        user.send_keys("admin")
        self.driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(password + Keys.ENTER)
        self.wait().until(lambda d: "login" not in d.current_url.lower())

    def open_add_connection(self, hook_name: str) -> str:
        """The "Add connection" form with ``hook_name`` picked as the type; returns the page text."""
        self.open("/connections")
        self.clickable("//button[contains(., 'Add Connection')]").click()
        # the type picker is a react-select: type into its input and take the highlighted option
        try:
            picker = self.wait().until(
                lambda d: next(iter(d.find_elements(By.XPATH, "//input[@role='combobox']")), None)
            )
            self.wait().until(lambda d: picker.is_enabled())
            self.driver.execute_script("arguments[0].focus();", picker)
            picker.send_keys(hook_name)
            option = f"//*[contains(@id, '-option-')][contains(., '{hook_name}')]"
            self.wait().until(lambda d: d.find_elements(By.XPATH, option))
            picker.send_keys(Keys.ENTER)
        except Exception:
            self.save_page("failed-connection-picker")
            raise
        self.wait_text("Standard Fields")
        return self.body_text()

    def fill(self, fields: dict[str, str]) -> None:
        """Type into the inputs named like the keys (clearing what is there: the form has defaults)."""
        for name, value in fields.items():
            box = self.wait().until(lambda d, n=name: d.find_element(By.NAME, n))
            box.send_keys(Keys.CONTROL, "a")
            box.send_keys(Keys.DELETE)
            box.send_keys(value)

    def dropdown_options(self, container_id: str) -> list[str]:
        """Open the react-select inside ``#container_id`` and return the texts of its options, in order."""
        self.wait().until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, f"#{container_id} input[role='combobox']"))
        ).click()
        options: list[WebElement] = self.wait().until(
            lambda d: d.find_elements(By.XPATH, "//*[contains(@id, '-option-')]")
        )
        return [option.text for option in options]

    def pick_option(self, text: str) -> None:
        """Click the open drop-down's option showing exactly ``text``."""
        self.clickable(f"//*[contains(@id, '-option-')][normalize-space(.)='{text}']").click()

    def toast(self, timeout: float = 60) -> str:
        """The first toast on the page as "title | description", once both are rendered (toasts vanish after
        5 s: this reads it at once; open a fresh page before an action whose toast you want)."""

        def shown(driver: webdriver.Chrome) -> str | None:
            for toast in driver.find_elements(By.XPATH, "//*[@data-scope='toast'][@data-part='root']"):
                parts = [
                    toast.find_elements(By.XPATH, f".//*[@data-part='{part}']") for part in ("title", "description")
                ]
                texts = [found[0].text.strip() if found else "" for found in parts]
                if all(texts):
                    return " | ".join(texts)
            return None

        try:
            text: str = self.wait(timeout).until(shown)
        except Exception:
            self.save_page("failed-toast")
            raise
        return text

    def log_lines(self, timeout: float = 60) -> list[str]:
        """The rendered lines of the task log viewer (each line's number, time, level and message on one line)."""
        items = "[data-testid^='virtualized-item-']"
        self.wait(timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, items))
        return [" ".join(e.text.split()) for e in self.driver.find_elements(By.CSS_SELECTOR, items)]

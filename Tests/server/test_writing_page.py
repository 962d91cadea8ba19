"""The writing page in a real browser: headless Chromium types a text, presses Continue, and sees it continued."""
import re
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def browser():
    driver_path = shutil.which("chromedriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not driver_path or not binary:
        pytest.fail("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_continue_appends_a_continuation(server_url, browser):
    browser.get(server_url + "/")
    assert "StoryWriter" in browser.title
    wait = WebDriverWait(browser, 60)
    manuscript = browser.find_element(By.ID, "manuscript")
    story = "The lamps were lit along the river, and the town was quiet."
    manuscript.send_keys(story)
    # Deterministic, short: greedy writing of 12 tokens.
    for field, value in (("n_predict", "12"), ("temperature", "0")):
        element = browser.find_element(By.ID, field)
        browser.execute_script("arguments[0].value = arguments[1]", element, value)
    browser.find_element(By.ID, "continue").click()

    # The continuation streams into the page, marked as new, then the review buttons appear.
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "accept")))
    pending = browser.find_element(By.ID, "pending").text
    assert pending.strip(), "no continuation arrived"
    assert "Wrote" in browser.find_element(By.ID, "status").text
    # The token count against the model's context (the tiny model's 2 x 2,048), refreshed after the writing.
    wait.until(lambda driver: re.search(r"\d+ / 4.?096 tokens", driver.find_element(By.ID, "count").text))

    browser.find_element(By.ID, "accept").click()
    text = browser.find_element(By.ID, "manuscript").get_attribute("value")
    assert text.startswith(story) and len(text) > len(story)
    assert browser.find_element(By.ID, "pending").text == ""

    # Undo takes the accepted continuation back out.
    browser.find_element(By.ID, "undo").click()
    assert browser.find_element(By.ID, "manuscript").get_attribute("value") == story

// Runs only if served with a JavaScript Content-Type: module scripts are strict about it.
document.getElementById("status").textContent = "The module script ran.";

const answer = await fetch("/data/hello.json");
const data = await answer.json();
document.getElementById("data").textContent = data.message;

package main

// title heads the page: edit it and save, and the page in the browser
// shows the new one as soon as the new version answers.
const title = "Hello from devrun"

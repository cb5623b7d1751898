// Reads a .env file with Node's dotenv and prints the parsed object as JSON.
const fs = require("fs");
const dotenv = require("dotenv");
process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[2]))));
